// Extended attributes (and so POSIX ACLs), which Swift's Glibc module does
// not import: glibc declares them in <sys/xattr.h>.
#include <sys/xattr.h>
