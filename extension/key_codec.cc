#include "key_codec.h"
