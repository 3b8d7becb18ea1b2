// Transitional: the error type is public now (include/salvo/error.h).
#pragma once
#include "salvo/error.h"
