/* basic.c: open a database, write and read strings, numbers and collections.
 * Usage: basic [data-dir]   (no argument: a database in memory) */
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
  chiral_db *db = NULL;
  if (argc > 1) {
    chiral_options *options = NULL;
    OK(chiral_options_new(&options));
    OK(chiral_options_set_fsync(options, CHIRAL_FSYNC_ALWAYS, 0));
    OK(chiral_db_open(argv[1], options, &db));
    chiral_options_free(options);
  } else {
    OK(chiral_db_open_in_memory(NULL, &db));
  }
  chiral_reader *reader = NULL;
  OK(chiral_reader_new(db, &reader));

  /* Strings: set, then get into our own buffer. */
  OK(chiral_set(db, S("greeting"), S("hello, world"), 0, CHIRAL_ACK_DURABLE));
  char buf[64];
  size_t len = 0;
  OK(chiral_get(reader, S("greeting"), (uint8_t *)buf, sizeof buf, &len));
  printf("greeting = %.*s\n", (int)len, buf);

  /* A buffer too small learns the size it needs. */
  EXPECT(chiral_get(reader, S("greeting"), (uint8_t *)buf, 4, &len), CHIRAL_ERR_BUFFER_TOO_SMALL);
  printf("needed %zu bytes\n", len);
  EXPECT(chiral_get(reader, S("missing"), (uint8_t *)buf, sizeof buf, &len), CHIRAL_NOT_FOUND);
  printf("missing: not found\n");

  /* Numbers. */
  int64_t visits = 0;
  OK(chiral_incr(db, S("visits"), 1, &visits));
  OK(chiral_incr(db, S("visits"), 41, &visits));
  OK(chiral_get(reader, S("visits"), (uint8_t *)buf, sizeof buf, &len));
  printf("visits = %lld (read back as \"%.*s\")\n", (long long)visits, (int)len, buf);
  EXPECT(chiral_incr(db, S("greeting"), 1, NULL), CHIRAL_ERR_NOT_A_NUMBER);

  /* A key that expires. */
  OK(chiral_set(db, S("session"), S("token"), 60000, CHIRAL_ACK_VISIBLE));
  uint64_t version = 0;
  OK(chiral_key_version(reader, S("session"), &version));
  printf("session has a version: %s\n", version > 0 ? "yes" : "no");

  /* Lists, sets, hashes. */
  OK(chiral_list_push(db, S("queue"), CHIRAL_END_TAIL, S("first"), NULL));
  uint64_t queued = 0;
  OK(chiral_list_push(db, S("queue"), CHIRAL_END_TAIL, S("second"), &queued));
  chiral_bytes popped = {0};
  OK(chiral_list_pop(db, S("queue"), CHIRAL_END_HEAD, &popped));
  printf("queue had %llu, popped %.*s\n", (unsigned long long)queued, (int)popped.len,
         (const char *)popped.data);
  chiral_bytes_free(&popped);

  bool added = false;
  OK(chiral_set_add(db, S("tags"), S("fast"), &added));
  OK(chiral_set_add(db, S("tags"), S("fast"), &added));
  printf("fast added twice, new the second time: %s\n", added ? "yes" : "no");
  OK(chiral_set_contains(reader, S("tags"), S("fast")));
  EXPECT(chiral_set_contains(reader, S("tags"), S("slow")), CHIRAL_NOT_FOUND);

  OK(chiral_hash_set(db, S("user:1"), S("name"), S("Ada")));
  OK(chiral_hash_get(reader, S("user:1"), S("name"), (uint8_t *)buf, sizeof buf, &len));
  printf("user:1 name = %.*s\n", (int)len, buf);
  chiral_kind kind;
  OK(chiral_key_kind(reader, S("user:1"), &kind));
  printf("user:1 is a hash: %s\n", kind == CHIRAL_KIND_HASH ? "yes" : "no");
  EXPECT(chiral_get(reader, S("user:1"), (uint8_t *)buf, sizeof buf, &len), CHIRAL_ERR_WRONG_TYPE);

  /* Scan the keys with a prefix. */
  OK(chiral_set(db, S("user:2"), S("x"), 0, CHIRAL_ACK_VISIBLE));
  chiral_iter *keys = NULL;
  OK(chiral_scan(reader, S("user:"), NULL, 0, &keys));
  const uint8_t *key;
  size_t key_len;
  int users = 0;
  while (chiral_iter_next(keys, &key, &key_len) == CHIRAL_OK) {
    users++;
  }
  chiral_iter_free(keys);
  printf("keys under user: %d\n", users);

  /* Delete. */
  OK(chiral_delete(db, S("greeting"), CHIRAL_ACK_VISIBLE));
  EXPECT(chiral_delete(db, S("greeting"), CHIRAL_ACK_VISIBLE), CHIRAL_NOT_FOUND);

  chiral_reader_free(reader);
  OK(chiral_db_close(db));
  chiral_db_free(db);
  printf("ok\n");
  return 0;
}
