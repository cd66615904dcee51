/* view.c: zero-copy reads. A view hands out pointers into the database's own
 * memory, all from one commit, valid until the view is freed. */
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
  chiral_db *db = NULL;
  if (argc > 1) {
    OK(chiral_db_open(argv[1], NULL, &db));
  } else {
    OK(chiral_db_open_in_memory(NULL, &db));
  }
  chiral_reader *reader = NULL;
  OK(chiral_reader_new(db, &reader));
  OK(chiral_set(db, S("config"), S("{\"mode\":\"fast\"}"), 0, CHIRAL_ACK_VISIBLE));
  OK(chiral_incr(db, S("hits"), 7, NULL));
  if (argc > 1) {
    /* On disk, move the values into a snapshot: the view then reads the mapped file. */
    OK(chiral_db_snapshot(db, NULL));
  }

  chiral_view *view = NULL;
  OK(chiral_view_open(reader, &view));
  const uint8_t *config, *hits;
  size_t config_len, hits_len;
  OK(chiral_view_get(view, S("config"), &config, &config_len));
  OK(chiral_view_get(view, S("hits"), &hits, &hits_len));
  printf("config = %.*s\n", (int)config_len, (const char *)config);
  printf("hits = %.*s\n", (int)hits_len, (const char *)hits);
  const uint8_t *missing;
  size_t missing_len;
  EXPECT(chiral_view_get(view, S("nothing"), &missing, &missing_len), CHIRAL_NOT_FOUND);

  /* A thread holding a view cannot wait for a write: the call says so instead of
   * hanging. */
  EXPECT(chiral_set(db, S("config"), S("{}"), 0, CHIRAL_ACK_VISIBLE), CHIRAL_ERR_VIEW_OPEN);
  char message[256];
  chiral_last_error(message, sizeof message);
  printf("write while viewing: %s\n", strstr(message, "read view") ? "refused" : message);

  /* The reader may be freed first: the view keeps what it needs. */
  chiral_reader_free(reader);
  printf("still readable after the reader is freed: %.*s\n", (int)config_len,
         (const char *)config);
  chiral_view_free(view);

  OK(chiral_set(db, S("config"), S("{}"), 0, CHIRAL_ACK_VISIBLE));
  printf("write after the view: ok\n");
  chiral_db_free(db);
  printf("ok\n");
  return 0;
}
