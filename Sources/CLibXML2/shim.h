#ifndef CPUCOMPAT_CLIBXML2_SHIM_H
#define CPUCOMPAT_CLIBXML2_SHIM_H

/* libxml2 built with ICU includes <unicode/ucnv.h> from encoding.h, only to
 * name the opaque UConverter in a struct we never touch. Those system ICU
 * headers clash with the ICU that Foundation carries ("UErrorCode has
 * different definitions") in any module that imports both, so keep them out:
 * claim ucnv.h as already included and declare the two types it needs, as
 * ICU defines them for C (the struct's layout is unchanged). */
#include <stdint.h>
#ifndef UCNV_H
#define UCNV_H
typedef struct UConverter UConverter;
typedef uint16_t UChar;
#endif

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>

/// `xmlFree` is a global function pointer, which Swift 6 will not read
/// from a nonisolated context; this wrapper calls it on Swift's behalf.
static inline void cpucompat_xmlFree(void *pointer) {
    xmlFree(pointer);
}

#endif
