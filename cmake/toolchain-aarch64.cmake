# Cross-compiling edgeml for 64-bit Arm Linux with Debian's gcc-aarch64-linux-gnu and the arm64
# multiarch -dev packages (scripts/install-deps.sh --aarch64); scripts/test-aarch64.sh runs the
# tests under qemu-user. Generators (protoc-c) are found and run on the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(EML_CROSS_TRIPLE aarch64-linux-gnu CACHE STRING "Target triple of the cross compiler")
set(CMAKE_C_COMPILER ${EML_CROSS_TRIPLE}-gcc)

# Libraries and headers: the target's multiarch folders (/usr/lib/aarch64-linux-gnu, found through
# CMAKE_LIBRARY_ARCHITECTURE) and the cross compiler's own sysroot; never the host's x86 ones.
set(CMAKE_FIND_ROOT_PATH /usr/${EML_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config reads the target's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${EML_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Test programs run through qemu-user unless the caller picks another emulator (or none, on an
# arm64 host). The loader and libc must be the multiarch libc6:arm64 pair
# (/lib/ld-linux-aarch64.so.1, /lib/aarch64-linux-gnu), the one the -dev packages' libraries come
# with: with -L
# /usr/aarch64-linux-gnu qemu takes the cross package's ld.so, which then loads libc6:arm64's
# libc.so.6 from the fallback path, and a loader and libc of two builds hang in pthread_create.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(EML_QEMU_AARCH64 qemu-aarch64)
  if(EML_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${EML_QEMU_AARCH64} -L /)
  endif()
endif()
