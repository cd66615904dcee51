/* batch.c: atomic batches guarded by preconditions (optimistic concurrency).
 * Moves money between two accounts only if neither changed since it was read. */
#include "check.h"

static long long balance(chiral_reader *reader, const uint8_t *key, size_t key_len) {
  char buf[32];
  size_t len = 0;
  OK(chiral_get(reader, key, key_len, (uint8_t *)buf, sizeof buf - 1, &len));
  buf[len] = '\0';
  return atoll(buf);
}

int main(void) {
  chiral_db *db = NULL;
  chiral_reader *reader = NULL;
  chiral_batch *batch = NULL;
  OK(chiral_db_open_in_memory(NULL, &db));
  OK(chiral_reader_new(db, &reader));
  OK(chiral_batch_new(&batch));

  OK(chiral_set(db, S("alice"), S("100"), 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_set(db, S("bob"), S("0"), 0, CHIRAL_ACK_VISIBLE));

  /* Read the versions, then transfer 30 if neither account changed meanwhile. */
  uint64_t alice_version = 0, bob_version = 0, lsn = 0;
  OK(chiral_key_version(reader, S("alice"), &alice_version));
  OK(chiral_key_version(reader, S("bob"), &bob_version));
  OK(chiral_batch_require_version(batch, S("alice"), alice_version));
  OK(chiral_batch_require_version(batch, S("bob"), bob_version));
  OK(chiral_batch_incr(batch, S("alice"), -30));
  OK(chiral_batch_incr(batch, S("bob"), 30));
  OK(chiral_batch_commit(db, batch, CHIRAL_ACK_VISIBLE, &lsn));
  printf("transfer 1 committed: alice %lld, bob %lld\n", balance(reader, S("alice")),
         balance(reader, S("bob")));
  uint64_t new_version = 0;
  OK(chiral_key_version(reader, S("alice"), &new_version));
  printf("alice's version is the batch's LSN: %s\n", new_version == lsn ? "yes" : "no");

  /* The same transfer again, with the versions read before the first one: refused. */
  OK(chiral_batch_require_version(batch, S("alice"), alice_version));
  OK(chiral_batch_require_version(batch, S("bob"), bob_version));
  OK(chiral_batch_incr(batch, S("alice"), -30));
  OK(chiral_batch_incr(batch, S("bob"), 30));
  EXPECT(chiral_batch_commit(db, batch, CHIRAL_ACK_VISIBLE, NULL), CHIRAL_ERR_PRECONDITION);
  printf("transfer 2 refused: alice %lld, bob %lld\n", balance(reader, S("alice")),
         balance(reader, S("bob")));

  /* Create-only: a key that must not exist yet. */
  OK(chiral_batch_require_exists(batch, S("carol"), false));
  OK(chiral_batch_set(batch, S("carol"), S("50"), 0));
  OK(chiral_batch_commit(db, batch, CHIRAL_ACK_VISIBLE, NULL));
  OK(chiral_batch_require_exists(batch, S("carol"), false));
  OK(chiral_batch_set(batch, S("carol"), S("999"), 0));
  EXPECT(chiral_batch_commit(db, batch, CHIRAL_ACK_VISIBLE, NULL), CHIRAL_ERR_PRECONDITION);
  printf("carol created once: %lld\n", balance(reader, S("carol")));

  /* One refused operation refuses the whole batch. */
  OK(chiral_set(db, S("note"), S("not a number"), 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_batch_incr(batch, S("alice"), 1));
  OK(chiral_batch_incr(batch, S("note"), 1));
  EXPECT(chiral_batch_commit(db, batch, CHIRAL_ACK_VISIBLE, NULL), CHIRAL_ERR_NOT_A_NUMBER);
  printf("all or nothing: alice %lld\n", balance(reader, S("alice")));

  chiral_batch_free(batch);
  chiral_reader_free(reader);
  chiral_db_free(db);
  printf("ok\n");
  return 0;
}
