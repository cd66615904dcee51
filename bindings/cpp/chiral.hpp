// chiral.hpp: a header-only C++17 wrapper over chiral.h.
//
// RAII types own the C handles (moving transfers ownership; copying is not allowed).
// Keys and values go in as std::string_view; reads that may find nothing return
// std::optional. Every error is thrown as chiral::error, which carries the status and
// the library's message; "not found" is never an error. The thread rules are the C
// ones: a chiral::db is shared by all threads; a reader, with its views and
// iterators, belongs to one thread at a time; a thread holding a view cannot write.
#ifndef CHIRAL_HPP
#define CHIRAL_HPP

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chiral.h"

namespace chiral {

// A failed call: its status and the library's message.
class error : public std::runtime_error {
 public:
  error(chiral_status status, const std::string &message)
      : std::runtime_error(std::string(chiral_status_name(status)) + ": " + message),
        status_(status) {}
  chiral_status status() const noexcept { return status_; }

 private:
  chiral_status status_;
};

namespace detail {

inline std::string last_error() {
  std::string message(chiral_last_error(nullptr, 0), '\0');
  chiral_last_error(message.data(), message.size() + 1);
  return message;
}

// Throws for an error status; returns the answers that are not errors
// (CHIRAL_OK, CHIRAL_NOT_FOUND, CHIRAL_DONE).
inline chiral_status check(chiral_status status) {
  if (static_cast<int>(status) >= 10) {
    throw error(status, last_error());
  }
  return status;
}

inline const uint8_t *bytes(std::string_view text) {
  return reinterpret_cast<const uint8_t *>(text.data());
}

inline std::string_view view_of(const uint8_t *data, size_t len) {
  return std::string_view(reinterpret_cast<const char *>(data), len);
}

// Calls `read(buf, capacity, &len)` until the value fits its buffer (it may grow
// between calls); nullopt for CHIRAL_NOT_FOUND.
template <typename Read>
std::optional<std::string> copy_value(Read read) {
  std::string value(64, '\0');
  for (;;) {
    size_t len = 0;
    chiral_status status = read(reinterpret_cast<uint8_t *>(value.data()), value.size(), &len);
    if (status == CHIRAL_ERR_BUFFER_TOO_SMALL) {
      value.resize(len);
      continue;
    }
    if (check(status) == CHIRAL_NOT_FOUND) {
      return std::nullopt;
    }
    value.resize(len);
    return value;
  }
}

inline chiral_slice slice_of(std::string_view text) { return chiral_slice{bytes(text), text.size()}; }

// Owns a C handle: frees it with Free on destruction.
template <typename T, void (*Free)(T *)>
class handle {
 public:
  handle() = default;
  explicit handle(T *raw) : raw_(raw) {}
  handle(handle &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  handle &operator=(handle &&other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  handle(const handle &) = delete;
  handle &operator=(const handle &) = delete;
  ~handle() { reset(); }
  T *get() const noexcept { return raw_; }
  void reset() noexcept { Free(std::exchange(raw_, nullptr)); }

 private:
  T *raw_ = nullptr;
};

}  // namespace detail

// When a write returns.
enum class ack : chiral_ack {
  eventual = CHIRAL_ACK_EVENTUAL,  // once queued
  visible = CHIRAL_ACK_VISIBLE,    // once every reader sees it
  durable = CHIRAL_ACK_DURABLE,    // once visible and on disk
};

// Which end of a list.
enum class end : chiral_end { head = CHIRAL_END_HEAD, tail = CHIRAL_END_TAIL };

// Options for db::open.
class options {
 public:
  options() {
    chiral_options *raw = nullptr;
    detail::check(chiral_options_new(&raw));
    handle_ = decltype(handle_)(raw);
  }
  options &fsync_always() { return fsync(CHIRAL_FSYNC_ALWAYS, 0); }
  options &fsync_every(std::chrono::milliseconds interval) {
    return fsync(CHIRAL_FSYNC_INTERVAL, static_cast<uint64_t>(interval.count()));
  }
  options &fsync_never() { return fsync(CHIRAL_FSYNC_NEVER, 0); }
  options &io_backend(chiral_io_backend backend) {
    detail::check(chiral_options_set_io_backend(handle_.get(), backend));
    return *this;
  }
  options &read_only(bool read_only = true) {
    detail::check(chiral_options_set_read_only(handle_.get(), read_only));
    return *this;
  }
  options &limits(size_t max_key_bytes, size_t max_value_bytes) {
    detail::check(chiral_options_set_limits(handle_.get(), max_key_bytes, max_value_bytes));
    return *this;
  }
  const chiral_options *get() const noexcept { return handle_.get(); }

 private:
  options &fsync(chiral_fsync policy, uint64_t interval_ms) {
    detail::check(chiral_options_set_fsync(handle_.get(), policy, interval_ms));
    return *this;
  }
  detail::handle<chiral_options, chiral_options_free> handle_;
};

// A range of single items (keys, list elements, set members), usable in range-for.
// Each std::string_view is valid until the iterator moves on.
class items {
 public:
  class iterator {
   public:
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(chiral_iter *raw) : raw_(raw) { ++*this; }
    std::string_view operator*() const { return current_; }
    iterator &operator++() {
      const uint8_t *data = nullptr;
      size_t len = 0;
      if (detail::check(chiral_iter_next(raw_, &data, &len)) == CHIRAL_DONE) {
        raw_ = nullptr;
      } else {
        current_ = detail::view_of(data, len);
      }
      return *this;
    }
    bool operator==(const iterator &other) const { return raw_ == other.raw_; }
    bool operator!=(const iterator &other) const { return raw_ != other.raw_; }

   private:
    chiral_iter *raw_ = nullptr;
    std::string_view current_;
  };
  explicit items(chiral_iter *raw) : handle_(raw) {}
  // Iterates once: a second begin() continues where the first stopped.
  iterator begin() { return iterator(handle_.get()); }
  iterator end() { return iterator(); }

 private:
  detail::handle<chiral_iter, chiral_iter_free> handle_;
};

// A range of a hash's (field, value) pairs, usable in range-for.
class pairs {
 public:
  using pair = std::pair<std::string_view, std::string_view>;
  class iterator {
   public:
    using value_type = pair;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(chiral_iter *raw) : raw_(raw) { ++*this; }
    const pair &operator*() const { return current_; }
    iterator &operator++() {
      const uint8_t *field = nullptr, *value = nullptr;
      size_t field_len = 0, value_len = 0;
      if (detail::check(chiral_iter_next_pair(raw_, &field, &field_len, &value, &value_len)) ==
          CHIRAL_DONE) {
        raw_ = nullptr;
      } else {
        current_ = pair(detail::view_of(field, field_len), detail::view_of(value, value_len));
      }
      return *this;
    }
    bool operator==(const iterator &other) const { return raw_ == other.raw_; }
    bool operator!=(const iterator &other) const { return raw_ != other.raw_; }

   private:
    chiral_iter *raw_ = nullptr;
    pair current_;
  };
  explicit pairs(chiral_iter *raw) : handle_(raw) {}
  iterator begin() { return iterator(handle_.get()); }
  iterator end() { return iterator(); }

 private:
  detail::handle<chiral_iter, chiral_iter_free> handle_;
};

// A zero-copy read view: values are borrowed from the database and stay valid while
// the view lives. Keep it short: writers wait for it.
class view {
 public:
  explicit view(chiral_view *raw) : handle_(raw) {}
  std::optional<std::string_view> get(std::string_view key) {
    const uint8_t *data = nullptr;
    size_t len = 0;
    if (detail::check(chiral_view_get(handle_.get(), detail::bytes(key), key.size(), &data,
                                      &len)) == CHIRAL_NOT_FOUND) {
      return std::nullopt;
    }
    return detail::view_of(data, len);
  }

 private:
  detail::handle<chiral_view, chiral_view_free> handle_;
};

// A thread's read handle.
class reader {
 public:
  explicit reader(chiral_reader *raw) : handle_(raw) {}

  // GET: a copy of the string value.
  std::optional<std::string> get(std::string_view key) const {
    return detail::copy_value([&](uint8_t *buf, size_t capacity, size_t *len) {
      return chiral_get(handle_.get(), detail::bytes(key), key.size(), buf, capacity, len);
    });
  }

  // The key's version (the LSN of its last write).
  std::optional<uint64_t> version(std::string_view key) const {
    uint64_t version = 0;
    if (detail::check(chiral_key_version(handle_.get(), detail::bytes(key), key.size(),
                                         &version)) == CHIRAL_NOT_FOUND) {
      return std::nullopt;
    }
    return version;
  }

  std::optional<chiral_kind> kind(std::string_view key) const {
    chiral_kind kind = CHIRAL_KIND_STRING;
    if (detail::check(chiral_key_kind(handle_.get(), detail::bytes(key), key.size(), &kind)) ==
        CHIRAL_NOT_FOUND) {
      return std::nullopt;
    }
    return kind;
  }

  std::optional<std::string> hash_get(std::string_view key, std::string_view field) const {
    return detail::copy_value([&](uint8_t *buf, size_t capacity, size_t *len) {
      return chiral_hash_get(handle_.get(), detail::bytes(key), key.size(), detail::bytes(field),
                             field.size(), buf, capacity, len);
    });
  }

  // DOC.GET of one field: its value as text; nullopt if there is no such document or
  // the field has no value. An unknown collection or field throws (CHIRAL_ERR_SCHEMA).
  std::optional<std::string> doc_get(const std::string &collection, std::string_view id,
                                     const std::string &field) const {
    return detail::copy_value([&](uint8_t *buf, size_t capacity, size_t *len) {
      return chiral_doc_get(handle_.get(), collection.c_str(), detail::bytes(id), id.size(),
                            field.c_str(), buf, capacity, len);
    });
  }

  bool set_contains(std::string_view key, std::string_view member) const {
    return detail::check(chiral_set_contains(handle_.get(), detail::bytes(key), key.size(),
                                             detail::bytes(member), member.size())) == CHIRAL_OK;
  }

  // Opens a zero-copy view (see chiral::view).
  chiral::view pin() const {
    chiral_view *raw = nullptr;
    detail::check(chiral_view_open(handle_.get(), &raw));
    return chiral::view(raw);
  }

  // The keys starting with `prefix` (and matching the glob `pattern`, if given).
  items scan(std::string_view prefix = {}, std::optional<std::string_view> pattern = {}) const {
    chiral_iter *raw = nullptr;
    detail::check(chiral_scan(handle_.get(), detail::bytes(prefix), prefix.size(),
                              pattern ? detail::bytes(*pattern) : nullptr,
                              pattern ? pattern->size() : 0, &raw));
    return items(raw);
  }

  items list_range(std::string_view key, int64_t start = 0, int64_t stop = -1) const {
    chiral_iter *raw = nullptr;
    detail::check(
        chiral_list_range(handle_.get(), detail::bytes(key), key.size(), start, stop, &raw));
    return items(raw);
  }

  items set_members(std::string_view key) const {
    chiral_iter *raw = nullptr;
    detail::check(chiral_set_members(handle_.get(), detail::bytes(key), key.size(), &raw));
    return items(raw);
  }

  pairs hash_entries(std::string_view key) const {
    chiral_iter *raw = nullptr;
    detail::check(chiral_hash_entries(handle_.get(), detail::bytes(key), key.size(), &raw));
    return pairs(raw);
  }

 private:
  detail::handle<chiral_reader, chiral_reader_free> handle_;
};

// Operations applied atomically by db::commit, guarded by preconditions.
class batch {
 public:
  batch() {
    chiral_batch *raw = nullptr;
    detail::check(chiral_batch_new(&raw));
    handle_ = decltype(handle_)(raw);
  }
  batch &set(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl = std::chrono::milliseconds(0)) {
    detail::check(chiral_batch_set(handle_.get(), detail::bytes(key), key.size(),
                                   detail::bytes(value), value.size(),
                                   static_cast<uint64_t>(ttl.count())));
    return *this;
  }
  batch &erase(std::string_view key) {
    detail::check(chiral_batch_delete(handle_.get(), detail::bytes(key), key.size()));
    return *this;
  }
  batch &incr(std::string_view key, int64_t delta) {
    detail::check(chiral_batch_incr(handle_.get(), detail::bytes(key), key.size(), delta));
    return *this;
  }
  // The key must still be at `version` (0: absent) at commit.
  batch &require_version(std::string_view key, uint64_t version) {
    detail::check(
        chiral_batch_require_version(handle_.get(), detail::bytes(key), key.size(), version));
    return *this;
  }
  batch &require_exists(std::string_view key, bool must_exist) {
    detail::check(
        chiral_batch_require_exists(handle_.get(), detail::bytes(key), key.size(), must_exist));
    return *this;
  }
  chiral_batch *get() const noexcept { return handle_.get(); }

 private:
  detail::handle<chiral_batch, chiral_batch_free> handle_;
};

// One change, as a subscription's callback sees it; the views are valid during the
// call only.
struct change {
  chiral_change_kind kind;
  std::string_view key;
  std::optional<std::string_view> value;  // a string put's new value
  uint64_t version;
};

// A running subscription. Destroying it waits for a call in flight, then stops.
class subscription {
 public:
  subscription(subscription &&) noexcept = default;
  subscription &operator=(subscription &&other) noexcept {
    handle_.reset();  // stop the old callback before its state goes
    state_ = std::move(other.state_);
    handle_ = std::move(other.handle_);
    return *this;
  }
  ~subscription() { handle_.reset(); }  // unsubscribe before the state goes

  // Rethrows what the callback threw, if it threw (calls stopped then).
  void rethrow_if_failed() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->failure) {
      std::rethrow_exception(state_->failure);
    }
  }

 private:
  friend class db;
  struct state {
    std::function<void(const change &)> callback;
    std::mutex mutex;
    std::exception_ptr failure;
  };
  // Never lets an exception reach the library.
  static void trampoline(void *user_data, const chiral_change *raw) noexcept {
    auto *state = static_cast<struct state *>(user_data);
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      if (state->failure) {
        return;
      }
    }
    try {
      change event{raw->kind, detail::view_of(raw->key, raw->key_len),
                   raw->value ? std::optional<std::string_view>(
                                    detail::view_of(raw->value, raw->value_len))
                              : std::nullopt,
                   raw->version};
      state->callback(event);
    } catch (...) {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->failure = std::current_exception();
    }
  }
  subscription() : state_(std::make_unique<state>()) {}
  std::unique_ptr<state> state_;
  detail::handle<chiral_subscription, chiral_unsubscribe> handle_;
};

// An open database, shared by all threads.
class db {
 public:
  static db open(const std::string &path, const options &options = chiral::options()) {
    chiral_db *raw = nullptr;
    detail::check(chiral_db_open(path.c_str(), options.get(), &raw));
    return db(raw);
  }
  static db in_memory() {
    chiral_db *raw = nullptr;
    detail::check(chiral_db_open_in_memory(nullptr, &raw));
    return db(raw);
  }

  // A reader for the calling thread.
  chiral::reader reader() const {
    chiral_reader *raw = nullptr;
    detail::check(chiral_reader_new(handle_.get(), &raw));
    return chiral::reader(raw);
  }

  void set(std::string_view key, std::string_view value,
           std::chrono::milliseconds ttl = std::chrono::milliseconds(0),
           chiral::ack ack = chiral::ack::visible) const {
    detail::check(chiral_set(handle_.get(), detail::bytes(key), key.size(), detail::bytes(value),
                             value.size(), static_cast<uint64_t>(ttl.count()),
                             static_cast<chiral_ack>(ack)));
  }
  // Deletes the key; whether it existed.
  bool erase(std::string_view key, chiral::ack ack = chiral::ack::visible) const {
    return detail::check(chiral_delete(handle_.get(), detail::bytes(key), key.size(),
                                       static_cast<chiral_ack>(ack))) == CHIRAL_OK;
  }
  int64_t incr(std::string_view key, int64_t delta = 1) const {
    int64_t value = 0;
    detail::check(chiral_incr(handle_.get(), detail::bytes(key), key.size(), delta, &value));
    return value;
  }
  uint64_t list_push(std::string_view key, chiral::end end, std::string_view value) const {
    uint64_t len = 0;
    detail::check(chiral_list_push(handle_.get(), detail::bytes(key), key.size(),
                                   static_cast<chiral_end>(end), detail::bytes(value),
                                   value.size(), &len));
    return len;
  }
  std::optional<std::string> list_pop(std::string_view key, chiral::end end) const {
    chiral_bytes popped{nullptr, 0};
    if (detail::check(chiral_list_pop(handle_.get(), detail::bytes(key), key.size(),
                                      static_cast<chiral_end>(end), &popped)) ==
        CHIRAL_NOT_FOUND) {
      return std::nullopt;
    }
    std::string value(reinterpret_cast<const char *>(popped.data), popped.len);
    chiral_bytes_free(&popped);
    return value;
  }
  // Whether the member was new.
  bool set_add(std::string_view key, std::string_view member) const {
    bool added = false;
    detail::check(chiral_set_add(handle_.get(), detail::bytes(key), key.size(),
                                 detail::bytes(member), member.size(), &added));
    return added;
  }
  // Whether the member was there.
  bool set_remove(std::string_view key, std::string_view member) const {
    return detail::check(chiral_set_remove(handle_.get(), detail::bytes(key), key.size(),
                                           detail::bytes(member), member.size())) == CHIRAL_OK;
  }
  void hash_set(std::string_view key, std::string_view field, std::string_view value) const {
    detail::check(chiral_hash_set(handle_.get(), detail::bytes(key), key.size(),
                                  detail::bytes(field), field.size(), detail::bytes(value),
                                  value.size()));
  }
  // Whether the field was there.
  bool hash_delete(std::string_view key, std::string_view field) const {
    return detail::check(chiral_hash_delete(handle_.get(), detail::bytes(key), key.size(),
                                            detail::bytes(field), field.size())) == CHIRAL_OK;
  }
  // SCHEMA.CREATE: `fields` are (name, type name) pairs such as {"id", "string64"}.
  void schema_create(const std::string &name,
                     const std::vector<std::pair<std::string, std::string>> &fields) const {
    auto c_fields = fields_of(fields);
    detail::check(chiral_schema_create(handle_.get(), name.c_str(), c_fields.data(),
                                       c_fields.size()));
  }
  // COLL.CREATE: a collection of `schema` documents keyed by `key_field`.
  void collection_create(const std::string &name, const std::string &schema,
                         const std::string &key_field) const {
    detail::check(chiral_collection_create(handle_.get(), name.c_str(), schema.c_str(),
                                           key_field.c_str()));
  }
  // DOC.SET: writes `fields` ((name, value as text) pairs), keeping the others;
  // whether the document is new. A broken rule throws (CHIRAL_ERR_SCHEMA).
  bool doc_set(const std::string &collection, std::string_view id,
               const std::vector<std::pair<std::string, std::string>> &fields,
               chiral::ack ack = chiral::ack::visible) const {
    auto c_fields = fields_of(fields);
    bool created = false;
    detail::check(chiral_doc_set(handle_.get(), collection.c_str(), detail::bytes(id), id.size(),
                                 c_fields.data(), c_fields.size(), static_cast<chiral_ack>(ack),
                                 &created));
    return created;
  }
  // DOC.DEL: whether the document was there.
  bool doc_delete(const std::string &collection, std::string_view id,
                  chiral::ack ack = chiral::ack::visible) const {
    return detail::check(chiral_doc_delete(handle_.get(), collection.c_str(), detail::bytes(id),
                                           id.size(), static_cast<chiral_ack>(ack))) == CHIRAL_OK;
  }

  // Replaces the value at `key` with a whole list of `elements`.
  template <typename Strings>
  void list_put(std::string_view key, const Strings &elements,
                chiral::ack ack = chiral::ack::visible) const {
    auto slices = slices_of(elements);
    detail::check(chiral_list_put(handle_.get(), detail::bytes(key), key.size(), slices.data(),
                                  slices.size(), static_cast<chiral_ack>(ack)));
  }

  // Commits `batch` atomically; returns its LSN. Throws chiral::error with
  // CHIRAL_ERR_PRECONDITION if a precondition failed (nothing applied). The batch is
  // left empty.
  uint64_t commit(batch &batch, chiral::ack ack = chiral::ack::visible) const {
    uint64_t lsn = 0;
    detail::check(
        chiral_batch_commit(handle_.get(), batch.get(), static_cast<chiral_ack>(ack), &lsn));
    return lsn;
  }

  // Calls `callback` (on a Chiral thread) for every change under `prefix`.
  subscription subscribe(std::string_view prefix,
                         std::function<void(const change &)> callback) const {
    subscription sub;
    sub.state_->callback = std::move(callback);
    chiral_subscription *raw = nullptr;
    detail::check(chiral_subscribe(handle_.get(), detail::bytes(prefix), prefix.size(),
                                   &subscription::trampoline, sub.state_.get(), &raw));
    sub.handle_ = decltype(sub.handle_)(raw);
    return sub;
  }

  // Takes a snapshot now; returns the LSN it covers.
  uint64_t snapshot() const {
    uint64_t lsn = 0;
    detail::check(chiral_db_snapshot(handle_.get(), &lsn));
    return lsn;
  }
  void close() const { detail::check(chiral_db_close(handle_.get())); }
  chiral_db *get() const noexcept { return handle_.get(); }

 private:
  explicit db(chiral_db *raw) : handle_(raw) {}
  template <typename Strings>
  static std::vector<chiral_slice> slices_of(const Strings &strings) {
    std::vector<chiral_slice> slices;
    for (const auto &text : strings) {
      slices.push_back(detail::slice_of(std::string_view(text)));
    }
    return slices;
  }
  // (name, text) pairs as C fields, pointing into `fields` (which must outlive them).
  static std::vector<chiral_field> fields_of(
      const std::vector<std::pair<std::string, std::string>> &fields) {
    std::vector<chiral_field> c_fields;
    for (const auto &[name, text] : fields) {
      c_fields.push_back(chiral_field{name.c_str(), detail::slice_of(text)});
    }
    return c_fields;
  }
  detail::handle<chiral_db, chiral_db_free> handle_;
};

}  // namespace chiral

#endif  // CHIRAL_HPP
