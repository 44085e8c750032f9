/* A folder of images as one data set: flat (images only) or one subfolder per class, whose
 * sorted position is the label (the ImageFolder convention of torchvision). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core.h"
#include "edgeml/io.h"

/* Folders with more entries are refused: a data set that big belongs in an .npy or IDX file. */
#define MAX_FOLDER_ENTRIES 1000000

typedef struct name_list {
    char **names;
    size_t count, cap;
} name_list;

static void list_free(eml_env *env, name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        eml__free(env, l->names[i]);
    eml__free(env, l->names);
    memset(l, 0, sizeof(*l));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

/* Entries of dir that are folders (want_dirs) or image files, sorted by name. */
static eml_status list_dir(eml_env *env, const char *dir, bool want_dirs, name_list *out,
                           eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    DIR *d = opendir(dir);
    if (!d)
        return eml__diag(diag, EML_EIO, "cannot open folder '%s'", dir);
    eml_status st = EML_OK;
    struct dirent *e;
    while (st == EML_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        bool is_dir = S_ISDIR(sb.st_mode);
        if (want_dirs ? !is_dir : (is_dir || !is_image_name(e->d_name)))
            continue;
        if (out->count >= MAX_FOLDER_ENTRIES) {
            st = eml__diag(diag, EML_ELIMIT, "folder '%s' has over %d entries", dir,
                           MAX_FOLDER_ENTRIES);
            break;
        }
        st = eml__grow(env, (void **)&out->names, &out->cap, out->count + 1, sizeof(char *));
        if (st == EML_OK) {
            out->names[out->count] = eml__strdup(env, e->d_name);
            if (!out->names[out->count])
                st = EML_ENOMEM;
            else
                out->count++;
        }
    }
    closedir(d);
    if (st == EML_OK && out->count > 1)
        qsort(out->names, out->count, sizeof(char *), cmp_names);
    if (st != EML_OK)
        list_free(env, out);
    return st;
}

/* Appends one image to the stacked data, fixing the sample shape on the first. */
static eml_status add_image(eml_env *env, const char *path, const eml_image_options *img,
                            eml_tensor *images, size_t *cap_floats, eml_diag *diag)
{
    eml_tensor t;
    eml_status st = eml_tensor_read_file(env, path, img, &t, diag);
    if (st != EML_OK)
        return st;
    int64_t per = eml_tensor_count(&t);
    if (images->dims[0] == 0) {
        images->dtype = EML_DTYPE_F32;
        images->rank = t.rank;
        for (int d = 1; d < t.rank; d++)
            images->dims[d] = t.dims[d];
    } else if (t.rank != images->rank || per != eml_tensor_count(images) / images->dims[0] ||
               memcmp(t.dims + 1, images->dims + 1, (size_t)(t.rank - 1) * sizeof(int64_t))) {
        char s1[96], s2[96];
        eml__shape_str(s1, sizeof(s1), t.dtype, t.dims, t.rank);
        eml_tensor first = *images;
        first.dims[0] = 1;
        eml__shape_str(s2, sizeof(s2), first.dtype, first.dims, first.rank);
        eml_tensor_free(env, &t);
        return eml__diag(diag, EML_ESHAPE,
                         "'%s' is %s, the folder's first image %s: give a size to resize to", path,
                         s1, s2);
    }
    size_t need = (size_t)(images->dims[0] + 1) * (size_t)per;
    st = eml__grow(env, &images->data, cap_floats, need, sizeof(float));
    if (st == EML_OK) {
        memcpy((float *)images->data + (size_t)images->dims[0] * (size_t)per, t.data,
               (size_t)per * sizeof(float));
        images->dims[0]++;
    }
    eml_tensor_free(env, &t);
    return st;
}

eml_status eml_tensor_read_image_folder(eml_env *env, const char *dir, const eml_image_options *img,
                                        uint32_t limit, eml_tensor *images, eml_tensor *labels,
                                        eml_diag *diag)
{
    memset(images, 0, sizeof(*images));
    if (labels)
        memset(labels, 0, sizeof(*labels));
    name_list classes, files;
    memset(&files, 0, sizeof(files));
    size_t cap = 0, label_cap = 0;
    eml_status st = list_dir(env, dir, true, &classes, diag);
    if (st != EML_OK)
        return st;
    size_t n_groups = classes.count ? classes.count : 1;
    for (size_t c = 0; c < n_groups && st == EML_OK; c++) {
        char sub[4096];
        if (classes.count)
            snprintf(sub, sizeof(sub), "%s/%s", dir, classes.names[c]);
        else
            snprintf(sub, sizeof(sub), "%s", dir);
        EML_TRY(list_dir(env, sub, false, &files, diag));
        for (size_t f = 0; f < files.count && (!limit || images->dims[0] < limit); f++) {
            char path[4096 + 256];
            snprintf(path, sizeof(path), "%s/%s", sub, files.names[f]);
            EML_TRY(add_image(env, path, img, images, &cap, diag));
            if (labels && classes.count) {
                EML_TRY(eml__grow(env, &labels->data, &label_cap, (size_t)images->dims[0],
                                  sizeof(int32_t)));
                ((int32_t *)labels->data)[images->dims[0] - 1] = (int32_t)c;
            }
        }
        list_free(env, &files);
    }
    if (images->dims[0] == 0) {
        st = eml__diag(diag, EML_EINVAL, "folder '%s' holds no .png or .jpg image", dir);
        goto fail;
    }
    if (labels && classes.count) {
        labels->dtype = EML_DTYPE_I32;
        labels->rank = 1;
        labels->dims[0] = images->dims[0];
    }
fail:
    list_free(env, &files);
    list_free(env, &classes);
    if (st != EML_OK) {
        eml__free(env, images->data);
        memset(images, 0, sizeof(*images));
        if (labels) {
            eml__free(env, labels->data);
            memset(labels, 0, sizeof(*labels));
        }
    }
    return st;
}
