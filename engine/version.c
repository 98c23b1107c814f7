/* The library's version at run time, for a program to compare with the header it was built
 * against. Spelled from the numeric macros, so the string and SPATE_VERSION_NUM cannot differ
 * (t_library.sh checks that it also equals SPATE_VERSION). */
#include "spate.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *spate_version(void)
{
    return STR(SPATE_VERSION_MAJOR) "." STR(SPATE_VERSION_MINOR) "." STR(SPATE_VERSION_PATCH);
}
