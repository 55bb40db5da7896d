#include "response_head.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dts::http {
namespace {

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";  // the reason phrase is optional (RFC 9112 4)
  }
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool IsValidValue(absl::string_view value) {
  return value.find_first_of(absl::string_view("\r\n\0", 3)) == absl::string_view::npos;
}

bool IsServerOwned(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "Content-Length") ||
         absl::EqualsIgnoreCase(name, "Connection") ||
         absl::EqualsIgnoreCase(name, "Transfer-Encoding");
}

void AppendHeader(absl::string_view name, absl::string_view value, std::string* out) {
  absl::StrAppend(out, name, ": ", value, "\r\n");
}

}  // namespace

bool StatusAllowsBody(int status) {
  return status >= 200 && status != 204 && status != 304;
}

bool IsValidHandlerStatus(int status) { return status >= 200 && status <= 599; }

void AppendResponseHead(const Response& response, const Framing& framing,
                        absl::string_view server_header, std::string* out, int* dropped) {
  *dropped = 0;
  absl::StrAppend(out, "HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status), "\r\n");
  if (!server_header.empty()) AppendHeader("Server", server_header, out);
  const bool body = StatusAllowsBody(response.status);
  if (body && !response.content_type.empty() && IsValidValue(response.content_type)) {
    AppendHeader("Content-Type", response.content_type, out);
  }
  // A HEAD response announces the length the GET body would have.
  if (body) absl::StrAppend(out, "Content-Length: ", response.body.size(), "\r\n");
  if (!framing.keep_alive) {
    AppendHeader("Connection", "close", out);
  } else if (framing.http10_client) {
    AppendHeader("Connection", "keep-alive", out);
  }
  for (const auto& [name, value] : response.headers) {
    if (IsServerOwned(name) || !IsValidName(name) || !IsValidValue(value)) {
      ++*dropped;
      continue;
    }
    AppendHeader(name, value, out);
  }
  out->append("\r\n");
}

}  // namespace dts::http
