/* check.h: the examples' one helper. EXPECT(call, status) runs a Chiral call and
 * stops the program, printing the error message, if it answers anything else. */
#ifndef CHIRAL_EXAMPLES_CHECK_H
#define CHIRAL_EXAMPLES_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "chiral.h"

static inline void expect_status(chiral_status got, chiral_status want, const char *call,
                                 const char *file, int line) {
  if (got != want) {
    char message[512];
    chiral_last_error(message, sizeof message);
    fprintf(stderr, "%s:%d: %s answered %s, expected %s: %s\n", file, line, call,
            chiral_status_name((int32_t)got), chiral_status_name((int32_t)want), message);
    exit(1);
  }
}

#define EXPECT(call, want) expect_status((call), (want), #call, __FILE__, __LINE__)
#define OK(call) EXPECT(call, CHIRAL_OK)

/* A NUL-terminated string as the (pointer, length) pair Chiral takes. */
#define S(text) (const uint8_t *)(text), (sizeof(text) - 1)

#endif
