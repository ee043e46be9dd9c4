#include "record_codec.h"
