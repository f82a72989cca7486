// SPDX-License-Identifier: MIT
// Shared helpers for the http_* tests: run a coroutine on a fresh io_context, sleep, make TLS certs.
#pragma once

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (they use their own
// operator new/delete pair), more so with sanitizers; it applies to every file including this.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

namespace http_test {

namespace asio = boost::asio;

// Runs `make(io)` (returning awaitable<void>) to completion; rethrows failed assertions.
template <class Make>
void run_coro(Make make, std::chrono::seconds limit = std::chrono::seconds(20)) {
  asio::io_context io;
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io, make(io), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.run_for(limit);
  if (failure) std::rethrow_exception(failure);
  REQUIRE(done);
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

struct cert_pair {
  std::string cert_pem;
  std::string key_pem;
};

// A fresh P-256 key and a self-signed certificate (usable as its own CA) naming `san`,
// e.g. "IP:127.0.0.1,DNS:localhost".
inline cert_pair make_self_signed(const char* san) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("pswm test"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid failed");
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, "critical,CA:TRUE");
  add(NID_key_usage, "critical,digitalSignature,keyCertSign");
  add(NID_subject_alt_name, san);
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  auto to_string = [](BIO* b) {
    char* data = nullptr;
    long n = BIO_ctrl(b, BIO_CTRL_INFO, 0, static_cast<void*>(&data));  // BIO_get_mem_data
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  };
  cert_pair out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x.get());
  out.cert_pem = to_string(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = to_string(b);
  return out;
}

}  // namespace http_test
