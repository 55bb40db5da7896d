#pragma once

#include "dts/http/router.h"

namespace dts::dashboard {

// Registers the web dashboard (docs/dashboard.md) on `router`:
//   GET /          the single page (index.html)
//   GET /ui/{file} its script, style sheet and icon; any other name is a 404
// The files are compiled into the binary (embed_assets.cmake), so the
// dashboard works offline. Every response carries an ETag (answered with 304
// on If-None-Match), Cache-Control: no-cache, a strict
// Content-Security-Policy (scripts and styles from the same origin only, no
// inline script) and nosniff. The dashboard talks to the server only through
// the public HTTP API, so it needs no access to anything else, and it asks
// for the API token itself when the API answers 401.
void RegisterDashboard(http::Router& router);

}  // namespace dts::dashboard
