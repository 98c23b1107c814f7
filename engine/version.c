/* Versions at run time: the library's, for a program to compare with the header it was built
 * against (spelled from the numeric macros, so the string and SPATE_VERSION_NUM cannot differ;
 * t_library.sh checks that it also equals SPATE_VERSION), and those of the libraries it runs
 * with (`spate --version`). */
#include "../dns/dns.h"
#include "../tls/tls.h"
#include "spate.h"
#include <llhttp.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

const char *spate_version(void)
{
    return STR(SPATE_VERSION_MAJOR) "." STR(SPATE_VERSION_MINOR) "." STR(SPATE_VERSION_PATCH);
}

const char *spate_version_of(const char *component)
{
    if (!component) return NULL;
    if (!strcmp(component, "spate")) return spate_version();
    /* the shared libraries may be newer than the headers spate was built with */
    if (!strcmp(component, "openssl")) return spate_tls_library_version();
    if (!strcmp(component, "c-ares")) return spate_dns_library_version();
    if (!strcmp(component, "llhttp"))
        return STR(LLHTTP_VERSION_MAJOR) "." STR(LLHTTP_VERSION_MINOR) "." STR(
            LLHTTP_VERSION_PATCH);
    return NULL;
}
