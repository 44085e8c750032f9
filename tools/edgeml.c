/* edgeml: the command line. */
#include <stdio.h>

#include "edgeml/edgeml.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("edgeml %s\n", EML_VERSION_STRING);
    return 0;
}
