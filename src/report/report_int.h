/* report: internal header shared by the module's files. */
#ifndef WEFT_REPORT_INT_H
#define WEFT_REPORT_INT_H

#include <stdint.h>

/* The 5x8 glyph of ASCII character c ('?' outside 32..126): 5 column bytes, left to right, bit r
 * of a column is row r from the top (rows 0..6 body, row 7 descenders). */
const uint8_t *weft_report_glyph(int c);

#endif
