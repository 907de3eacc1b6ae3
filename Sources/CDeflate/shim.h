// CDeflate: libdeflate (fast whole-buffer gzip) and zlib (streaming inflate for partial reads and
// precise truncation reports). Only VoxelIO/Compression imports it.
#include <libdeflate.h>
#include <zlib.h>
