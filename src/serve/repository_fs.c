/* File-system helpers of the model repository: whole-file writes and reads, fsync of files and
 * folders, renames that are durable, recursive removal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/repository.h"

eml_status eml__fs_write_file(const char *path, const void *data, size_t n_bytes, eml_diag *diag)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return eml__diag(diag, EML_EIO, "cannot create %s: %s", path, strerror(errno));
    const char *p = data;
    size_t left = n_bytes;
    while (left > 0) {
        /* chunks, so that a full disk is met part way as it would be with a real download */
        size_t chunk = left < (64u << 10) ? left : (64u << 10);
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            return eml__diag(diag, EML_EIO, "writing %s: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    /* fsync reports the write-back errors (a full disk on some file systems) that write() did not
     */
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return eml__diag(diag, EML_EIO, "fsync %s: %s", path, strerror(e));
    }
    if (close(fd) != 0)
        return eml__diag(diag, EML_EIO, "closing %s: %s", path, strerror(errno));
    return EML_OK;
}

eml_status eml__fs_read_file(eml_env *env, const char *path, uint64_t max_bytes, void **data,
                             size_t *n_bytes, eml_diag *diag)
{
    *data = NULL;
    *n_bytes = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return eml__diag(diag, errno == ENOENT ? EML_ENOTFOUND : EML_EIO, "cannot open %s: %s",
                         path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return eml__diag(diag, EML_EIO, "%s is not a readable file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return eml__diag(diag, EML_ELIMIT, "%s: %lld bytes, more than the limit of %llu", path,
                         (long long)sb.st_size, (unsigned long long)max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = eml__alloc(env, n ? n : 1);
    if (!buf) {
        close(fd);
        return eml__diag(diag, EML_ENOMEM, "out of memory reading %s (%zu bytes)", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            eml__free(env, buf);
            return eml__diag(diag, EML_EIO, "reading %s: %s", path,
                             r == 0 ? "file shrank while read" : strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *n_bytes = n;
    return EML_OK;
}

eml_status eml__fs_fsync_dir(const char *path, eml_diag *diag)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return eml__diag(diag, EML_EIO, "cannot open folder %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return eml__diag(diag, EML_EIO, "fsync of folder %s: %s", path, strerror(e));
    return EML_OK;
}

eml_status eml__fs_rename(const char *from, const char *to, eml_diag *diag)
{
    if (rename(from, to) != 0)
        return eml__diag(diag, EML_EIO, "rename %s -> %s: %s", from, to, strerror(errno));
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", to);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    return eml__fs_fsync_dir(dir, diag);
}

int eml__fs_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : errno;
    DIR *d = opendir(path);
    if (!d)
        return errno;
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[4096];
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child)) {
            err = ENAMETOOLONG;
            continue;
        }
        int r = eml__fs_remove_tree(child);
        if (r && !err)
            err = r;
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT && !err)
        err = errno;
    return err;
}
