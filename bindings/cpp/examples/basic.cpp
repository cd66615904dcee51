// basic.cpp: Chiral from C++ — RAII handles, exceptions, optional reads, a batch,
// a zero-copy view, range-for over a scan and a hash, and a change callback.
// Usage: basic [data-dir]   (no argument: a database in memory)
#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <set>
#include <vector>

#include "chiral.hpp"

int main(int argc, char **argv) {
  chiral::db db = argc > 1 ? chiral::db::open(argv[1], chiral::options().fsync_always())
                           : chiral::db::in_memory();
  chiral::reader reader = db.reader();

  db.set("greeting", "hello from C++");
  std::cout << "greeting = " << reader.get("greeting").value_or("?") << "\n";
  std::cout << "missing has a value: " << (reader.get("missing") ? "yes" : "no") << "\n";
  std::cout << "counter = " << db.incr("counter", 5) << "\n";

  // Errors are exceptions carrying the status.
  try {
    db.incr("greeting");
  } catch (const chiral::error &error) {
    std::cout << "incr of text: " << chiral_status_name(error.status()) << "\n";
  }

  // A batch guarded by a version: applied once, refused when stale.
  uint64_t version = reader.version("counter").value();
  chiral::batch batch;
  batch.require_version("counter", version).incr("counter", 1).set("audit", "bumped");
  db.commit(batch);
  batch.require_version("counter", version).incr("counter", 1);
  try {
    db.commit(batch);
  } catch (const chiral::error &error) {
    std::cout << "stale batch: " << chiral_status_name(error.status()) << "\n";
  }
  std::cout << "counter = " << reader.get("counter").value() << "\n";

  // Zero-copy reads in a view (closed at the end of the block).
  {
    chiral::view view = reader.pin();
    std::string_view greeting = view.get("greeting").value();
    std::cout << "viewed " << greeting.size() << " bytes in place\n";
  }

  // Range-for over a scan, a hash and a list.
  db.set("user:1", "ada");
  db.set("user:2", "grace");
  std::vector<std::string> users;
  for (std::string_view key : reader.scan("user:")) {
    users.emplace_back(key);
  }
  std::sort(users.begin(), users.end());
  std::cout << "users:";
  for (const auto &user : users) {
    std::cout << " " << user;
  }
  std::cout << "\n";
  db.hash_set("lang", "name", "C++");
  db.hash_set("lang", "year", "1985");
  std::set<std::string> fields;
  for (auto [field, value] : reader.hash_entries("lang")) {
    fields.insert(std::string(field) + "=" + std::string(value));
  }
  for (const auto &field : fields) {
    std::cout << "lang " << field << "\n";
  }
  db.list_put("steps", std::vector<std::string>{"parse", "plan", "run"});
  std::cout << "steps:";
  for (std::string_view step : reader.list_range("steps")) {
    std::cout << " " << step;
  }
  std::cout << "\n";
  std::cout << "popped " << db.list_pop("steps", chiral::end::head).value_or("?") << "\n";

  // Documents: a schema, a collection, a document written in parts.
  db.schema_create("user", {{"id", "string64"}, {"last_login_time", "uint64"},
                            {"last_visited_page", "string64"}});
  db.collection_create("users", "user", "id");
  bool created = db.doc_set("users", "u1", {{"last_login_time", "1312309023"}});
  db.doc_set("users", "u1", {{"last_visited_page", "/dashboard"}});
  std::cout << "document created: " << (created ? "yes" : "no") << ", last_login_time "
            << reader.doc_get("users", "u1", "last_login_time").value_or("?") << ", page "
            << reader.doc_get("users", "u1", "last_visited_page").value_or("?") << "\n";
  try {
    db.doc_set("users", "u1", {{"last_login_time", "abc"}});
  } catch (const chiral::error &error) {
    std::cout << "refused: " << error.what() << "\n";
  }
  std::cout << "deleted: " << (db.doc_delete("users", "u1") ? "yes" : "no") << ", then "
            << reader.doc_get("users", "u1", "last_login_time").value_or("(nil)") << "\n";

  // A change callback, with a lambda.
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> seen;
  {
    chiral::subscription subscription = db.subscribe("price:", [&](const chiral::change &c) {
      std::lock_guard<std::mutex> lock(mutex);
      seen.push_back(std::string(c.key) + " -> " + std::string(c.value.value_or("(deleted)")));
      changed.notify_one();
    });
    db.set("price:tea", "4");
    db.erase("price:tea");
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return seen.size() == 2; });
    subscription.rethrow_if_failed();
  }
  for (const auto &line : seen) {
    std::cout << "change: " << line << "\n";
  }
  std::cout << "ok\n";
  return 0;
}
