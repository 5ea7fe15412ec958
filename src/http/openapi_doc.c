/*
 * openapi_doc.c — docs/openapi.json inside the binary, so that build/mien is self-contained. The assembler
 * includes the file's bytes (followed by a NUL) at build time; the Makefile rebuilds this object whenever the
 * document changes.
 */
__asm__(".section .rodata\n"
        ".global mien_openapi_json\n"
        ".global mien_openapi_json_end\n"
        "mien_openapi_json:\n"
        ".incbin \"docs/openapi.json\"\n"
        "mien_openapi_json_end:\n"
        ".byte 0\n"
        ".previous\n");
