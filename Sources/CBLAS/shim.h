// CBLAS: exposes OpenBLAS's CBLAS interface to Swift. Only VoxelNN/Kernels imports it.
#include <cblas.h>
