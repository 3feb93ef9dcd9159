#ifndef VIGIL_CLINUX_SHIM_H
#define VIGIL_CLINUX_SHIM_H
#include <spawn.h>
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

/* glibc declares it under _GNU_SOURCE only, which Swift's Glibc module
   lacks (glibc 2.34+: Debian 12 and Amazon Linux 2023 both have it). A
   spawned hook or application gets no descriptor of Vigil's past stderr. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
static inline int vigil_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
  return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

#endif
