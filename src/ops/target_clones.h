// ACTLAB_TARGET_CLONES: compile a plain loop twice, for x86-64-v3 (AVX2 + FMA) and for the baseline, and let
// the loader pick one per machine (GCC's function multiversioning). For the layer loops that are not worth a
// Highway kernel of their own but run at SSE2 speed otherwise (BatchNorm's per-channel passes). Clang does
// not multiversion templates, so sanitizer builds (clang) get the baseline only.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define ACTLAB_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ACTLAB_TARGET_CLONES
#endif
