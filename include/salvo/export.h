// Marks what libsalvo exports; everything else in the library stays hidden.
#pragma once

#if defined(SALVO_BUILDING_LIBRARY)
#define SALVO_API __attribute__((visibility("default")))
#else
#define SALVO_API
#endif
