#include "index/bitmap.h"
