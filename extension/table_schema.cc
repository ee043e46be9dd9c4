#include "table_schema.h"
