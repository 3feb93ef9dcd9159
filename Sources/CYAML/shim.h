#ifndef VIGIL_CYAML_SHIM_H
#define VIGIL_CYAML_SHIM_H
/* libyaml, the parser Yams wraps, without Yams' Foundation dependency. */
#include <yaml.h>
#endif
