#ifndef CPUCOMPAT_CLIBXML2_SHIM_H
#define CPUCOMPAT_CLIBXML2_SHIM_H

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
