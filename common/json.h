/* Writing JSON strings with correct escaping. */
#pragma once

#include <stdio.h>

void json_string(FILE *f, const char *s);
