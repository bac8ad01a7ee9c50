/*
 * frames.c — names one return address of the target (frames.h): the symbolizer's answer for
 * address - 1, offsets taken from the address, "?" for what is unknown.
 */
#include "frames.h"

void frame_describe(nth_symbolizer *s, uintptr_t address, frame_text *out)
{
    nth_frame_name n;
    *out = (frame_text){address, "?", 0, "?", 0};
    if (!address || !nth_symbolize(s, address - 1, &n)) return;
    out->module = *n.module ? n.module : "?";
    out->module_offset = address - n.module_base;
    if (n.symbol && *n.symbol) {
        out->symbol = n.symbol;
        out->symbol_offset = address - n.symbol_address;
    }
}
