#ifndef VIGIL_CLINUX_SHIM_H
#define VIGIL_CLINUX_SHIM_H
#include <sys/prctl.h>
#include <sys/resource.h>

/* prctl is variadic, which Swift cannot call. Makes the process
   non-dumpable (no core file, no ptrace attach by other processes of the
   same user) and sets the core size limit to 0: a core of Vigil would hold
   every secret it caches. */
static inline int vigil_disable_core_dumps(void) {
  struct rlimit none = {0, 0};
  int limited = setrlimit(RLIMIT_CORE, &none);
  int hidden = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return limited == 0 && hidden == 0 ? 0 : -1;
}

#endif
