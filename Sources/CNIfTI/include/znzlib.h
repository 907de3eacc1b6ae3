/* Forwarding header: nifti2_io.h includes <znzlib.h>, but Debian installs it as <nifti/znzlib.h>.
   Keeping this file in the shim's include directory lets the bridge build without unsafe flags. */
#include <nifti/znzlib.h>
