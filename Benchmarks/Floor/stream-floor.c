/*
 * The C floor for reading many concatenated host CPUs: what a program that
 * only streams the file through libxml2 costs, to measure cpucompat's reader
 * against (issue 13: "100,000 hosts at most 2 times the C libxml2 floor").
 *
 * Its input is a file of <cpu> elements one after another, as
 * Scripts/compare-with-virsh generates (it counts every <cpu>, so not a
 * capabilities document, whose NUMA cells list <cpu>s too).
 *
 * It does the least any reader must: the file read into memory once, parsed
 * with libxml2's push parser inside a wrapper element (the documents are
 * several top-level elements), and for each <cpu> the model and vendor text
 * and every feature's name and policy copied out into a record, so the work
 * per host matches what cpucompat keeps. It prints the number of CPUs and
 * features, so a run can be checked against cpucompat's input.
 *
 * Build and run (Scripts/compare-with-virsh does both):
 *   cc -O2 -o stream-floor stream-floor.c $(pkg-config --cflags --libs libxml-2.0)
 *   /usr/bin/time -f "%e s %M KiB" ./stream-floor hosts-100000.xml
 */
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct feature { char name[32]; char policy; };
struct host { char model[48]; char vendor[16]; struct feature *features; int count; };

struct reader {
    struct host *hosts;
    size_t hosts_count, hosts_capacity;
    struct feature scratch[512];
    int in_cpu, field; /* field: 0 none, 1 model, 2 vendor */
    size_t features_total;
};

static struct host *current(struct reader *reader) { return &reader->hosts[reader->hosts_count - 1]; }

static void start(void *context, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri,
                  int namespaces_count, const xmlChar **namespaces, int attributes_count, int defaulted,
                  const xmlChar **attributes) {
    struct reader *reader = context;
    (void)prefix; (void)uri; (void)namespaces_count; (void)namespaces; (void)defaulted;
    if (strcmp((const char *)name, "cpu") == 0) {
        if (reader->hosts_count == reader->hosts_capacity) {
            reader->hosts_capacity = reader->hosts_capacity ? 2 * reader->hosts_capacity : 1024;
            reader->hosts = realloc(reader->hosts, reader->hosts_capacity * sizeof *reader->hosts);
        }
        memset(&reader->hosts[reader->hosts_count++], 0, sizeof *reader->hosts);
        reader->in_cpu = 1;
    } else if (reader->in_cpu && strcmp((const char *)name, "model") == 0) {
        reader->field = 1;
    } else if (reader->in_cpu && strcmp((const char *)name, "vendor") == 0) {
        reader->field = 2;
    } else if (reader->in_cpu && strcmp((const char *)name, "feature") == 0) {
        struct host *host = current(reader);
        if (host->count == 512) return;
        struct feature *feature = &reader->scratch[host->count++];
        feature->policy = 0;
        feature->name[0] = 0;
        for (int index = 0; index < attributes_count; index++) {
            const xmlChar **attribute = attributes + 5 * index;
            size_t length = (size_t)(attribute[4] - attribute[3]);
            if (strcmp((const char *)attribute[0], "name") == 0 && length < sizeof feature->name) {
                memcpy(feature->name, attribute[3], length);
                feature->name[length] = 0;
            } else if (strcmp((const char *)attribute[0], "policy") == 0 && length > 0) {
                feature->policy = (char)attribute[3][0];
            }
        }
    }
}

static void end(void *context, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri) {
    struct reader *reader = context;
    (void)prefix; (void)uri;
    reader->field = 0;
    if (reader->in_cpu && strcmp((const char *)name, "cpu") == 0) {
        struct host *host = current(reader);
        host->features = malloc((size_t)host->count * sizeof *host->features + 1);
        memcpy(host->features, reader->scratch, (size_t)host->count * sizeof *host->features);
        reader->features_total += (size_t)host->count;
        reader->in_cpu = 0;
    }
}

static void characters(void *context, const xmlChar *text, int length) {
    struct reader *reader = context;
    if (!reader->field) return;
    char *field = reader->field == 1 ? current(reader)->model : current(reader)->vendor;
    size_t size = reader->field == 1 ? sizeof current(reader)->model : sizeof current(reader)->vendor;
    size_t used = strlen(field);
    if (used + (size_t)length < size) { memcpy(field + used, text, (size_t)length); field[used + length] = 0; }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: stream-floor FILE\n"); return 2; }
    FILE *file = fopen(argv[1], "rb");
    if (!file) { perror(argv[1]); return 2; }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *bytes = malloc((size_t)size);
    if (fread(bytes, 1, (size_t)size, file) != (size_t)size) { perror(argv[1]); return 2; }
    fclose(file);

    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = start;
    sax.endElementNs = end;
    sax.characters = characters;
    struct reader reader;
    memset(&reader, 0, sizeof reader);
    static const char open[] = "<wrapper>", close[] = "</wrapper>";
    xmlParserCtxtPtr parser = xmlCreatePushParserCtxt(&sax, &reader, open, (int)strlen(open), argv[1]);
    xmlCtxtUseOptions(parser, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    const long chunk = 256 * 1024;
    for (long offset = 0; offset < size; offset += chunk)
        xmlParseChunk(parser, bytes + offset, (int)(size - offset < chunk ? size - offset : chunk), 0);
    xmlParseChunk(parser, close, (int)strlen(close), 1);
    int well_formed = parser->wellFormed;
    xmlFreeParserCtxt(parser);
    if (!well_formed) { fprintf(stderr, "%s: not well-formed\n", argv[1]); return 2; }
    printf("%zu CPUs, %zu features\n", reader.hosts_count, reader.features_total);
    return 0;
}
