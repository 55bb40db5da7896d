#pragma once
// Throw-away PEM files for the TLS tests, made with the openssl command (the
// same tool scripts/services.sh uses for the dev server's certificates).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace dts::cql::testing {

// A fresh directory under the system temp dir, removed by the destructor.
class TlsFiles {
 public:
  TlsFiles() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dts-cql-tls-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
    EXPECT_FALSE(dir_.empty()) << "mkdtemp failed";
  }
  ~TlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  // <name>.pem and <name>.key: a self-signed CA.
  bool MakeCa(const std::string& name) {
    return Run(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=", name,
                            " -addext basicConstraints=critical,CA:TRUE",
                            " -addext keyUsage=critical,keyCertSign,cRLSign -keyout ", Path(name + ".key"),
                            " -out ", Path(name + ".pem")));
  }
  // <name>.pem and <name>.key signed by the CA `ca`, with subjectAltName `san`
  // ("IP:127.0.0.1,DNS:localhost").
  bool MakeCert(const std::string& name, const std::string& ca, const std::string& san) {
    std::ofstream(Path(name + ".ext")) << "subjectAltName=" << san << "\n";
    return Run(absl::StrCat("openssl req -newkey rsa:2048 -nodes -subj /CN=", name, " -keyout ",
                            Path(name + ".key"), " -out ", Path(name + ".csr"))) &&
           Run(absl::StrCat("openssl x509 -req -days 2 -in ", Path(name + ".csr"), " -CA ",
                            Path(ca + ".pem"), " -CAkey ", Path(ca + ".key"), " -CAcreateserial",
                            " -extfile ", Path(name + ".ext"), " -out ", Path(name + ".pem")));
  }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name)) << text;
  }

 private:
  static bool Run(const std::string& cmd) {
    const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    EXPECT_EQ(rc, 0) << cmd;
    return rc == 0;
  }
  std::string dir_;
};

}  // namespace dts::cql::testing
