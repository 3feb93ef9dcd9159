#ifndef VIGIL_CCRYPT_SHIM_H
#define VIGIL_CCRYPT_SHIM_H
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

/* 1 when `password` hashes to `hash` (bcrypt $2b$/$2y$ and the other
   libxcrypt methods). crypt_data is large: heap, not stack. The final
   comparison does not stop at the first difference. */
static inline int vigil_crypt_matches(const char *password, const char *hash) {
  struct crypt_data *data = calloc(1, sizeof *data);
  if (!data) return 0;
  const char *out = crypt_rn(password, hash, data, (int)sizeof *data);
  int ok = 0;
  size_t length = strlen(hash);
  if (out && out[0] != '*' && strlen(out) == length) {
    unsigned char diff = 0;
    for (size_t i = 0; i < length; i++) diff |= (unsigned char)(out[i] ^ hash[i]);
    ok = diff == 0;
  }
  free(data);
  return ok;
}
#endif
