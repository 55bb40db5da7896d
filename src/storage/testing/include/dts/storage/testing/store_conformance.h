#pragma once

// The behaviour every Store backend must have, as one parameterized gtest
// suite. A backend's test instantiates it with a factory:
//
//   DTS_INSTANTIATE_STORE_CONFORMANCE(Sqlite, "sqlite", [] {
//     return std::unique_ptr<dts::storage::Store>(...a fresh, empty store...);
//   });
//
// and links dts_storage_testing. Each test gets a new store from the factory
// and destroys it at the end; the factory must return an empty store (the
// tests count rows), or nullptr to fail the test.

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "dts/storage/store.h"
#include "gtest/gtest.h"

namespace dts::storage::testing {

using StoreFactory = std::function<std::unique_ptr<Store>()>;

class StoreConformanceParam {
 public:
  // Defined out of line, in the same file as the tests, on purpose: the
  // tests live in a static library and register themselves from static
  // initializers, so the linker keeps them only if the test binary uses a
  // symbol of that object file. Instantiating the suite calls this.
  StoreConformanceParam(std::string name, StoreFactory factory);

  const std::string& name() const { return name_; }
  std::unique_ptr<Store> MakeStore() const { return factory_(); }

 private:
  std::string name_;
  StoreFactory factory_;
};

// gtest prints parameters in failure messages; print the name, not bytes.
void PrintTo(const StoreConformanceParam& param, std::ostream* os);

std::string StoreConformanceName(const ::testing::TestParamInfo<StoreConformanceParam>& info);

class StoreConformanceTest : public ::testing::TestWithParam<StoreConformanceParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Store& store() { return *store_; }

  std::unique_ptr<Store> store_;
};

}  // namespace dts::storage::testing

// gtest pastes the suite name into identifiers, so it must be unqualified:
// hence the alias (redeclaring it with the same type is allowed, so the
// macro may be used several times in one namespace).
#define DTS_INSTANTIATE_STORE_CONFORMANCE(prefix, name, factory)                            \
  using StoreConformanceTest = ::dts::storage::testing::StoreConformanceTest;               \
  INSTANTIATE_TEST_SUITE_P(                                                                 \
      prefix, StoreConformanceTest,                                                         \
      ::testing::Values(::dts::storage::testing::StoreConformanceParam((name), (factory))), \
      ::dts::storage::testing::StoreConformanceName)
