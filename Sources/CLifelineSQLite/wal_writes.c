#include "wal_writes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

// A VFS over the default one whose WAL files gather consecutive writes and hand them to the
// file in one call. SQLite writes each frame of a commit as two writes (its 24-byte header,
// then its page): a worker's transaction of 32 claims and 32 finishes made about 40 writes of
// the WAL, each a system call through the filesystem's buffered write path. What is gathered
// reaches the file before anything could need it there:
//  - before any read, size, truncation, sync, file control or close of that WAL file (so a
//    sync makes durable exactly what it would have);
//  - before any barrier on its database's shared memory, which SQLite passes just before it
//    publishes a commit in the WAL index (so no connection, here or in another process, is
//    told of frames not yet in the file, whatever the synchronous setting).
// A write the file refuses is reported by the sync or read that flushes it; one refused at a
// barrier cannot be reported, and the process stops rather than publish frames it lacks.

// The default VFS writes at most 128 KiB - 1 bytes in one call (it masks the length).
#define GATHER_LIMIT 0x1ffff

typedef struct GatheringFile GatheringFile;
struct GatheringFile {
    sqlite3_file base;
    sqlite3_file *real;
    // The database's name (a main database file's own; a WAL file's database's), or NULL.
    const char *database;
    // Whether it is a WAL file; if so, what it gathered (under `lock`) and the next one open.
    int wal;
    pthread_mutex_t lock;
    unsigned char *gathered;
    sqlite3_int64 start;
    int length;
    GatheringFile *next;
};

static sqlite3_vfs *underlying;
static sqlite3_vfs gathering;
static pthread_mutex_t walFilesLock = PTHREAD_MUTEX_INITIALIZER;
static GatheringFile *walFiles;

// Writes what `file` gathered; called with its lock held.
static int flushLocked(GatheringFile *file) {
    if (file->length == 0) return SQLITE_OK;
    int status = file->real->pMethods->xWrite(file->real, file->gathered, file->length, file->start);
    file->length = 0;
    return status;
}

static int flush(GatheringFile *file) {
    if (!file->wal) return SQLITE_OK;
    pthread_mutex_lock(&file->lock);
    int status = flushLocked(file);
    pthread_mutex_unlock(&file->lock);
    return status;
}

static int gatherClose(sqlite3_file *base) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    if (file->wal) {
        pthread_mutex_lock(&walFilesLock);
        for (GatheringFile **link = &walFiles; *link; link = &(*link)->next) {
            if (*link == file) {
                *link = file->next;
                break;
            }
        }
        pthread_mutex_unlock(&walFilesLock);
        pthread_mutex_destroy(&file->lock);
        sqlite3_free(file->gathered);
    }
    int closed = file->real->pMethods->xClose(file->real);
    return status != SQLITE_OK ? status : closed;
}

static int gatherRead(sqlite3_file *base, void *buffer, int amount, sqlite3_int64 offset) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    return status != SQLITE_OK ? status : file->real->pMethods->xRead(file->real, buffer, amount, offset);
}

// Writes `amount` bytes in pieces the default VFS takes whole. It masks a write's length to 17
// bits and takes a write that made no progress for a full disk, so a longer one whose length
// is a multiple of 128 KiB, as a statement journal's 1 MiB chunks spilled to their file are,
// failed with SQLITE_FULL: a claim of a few jobs with large arguments never went through.
static int writeInPieces(sqlite3_file *real, const void *buffer, int amount, sqlite3_int64 offset) {
    const unsigned char *bytes = buffer;
    do {
        int piece = amount < GATHER_LIMIT ? amount : GATHER_LIMIT;
        int status = real->pMethods->xWrite(real, bytes, piece, offset);
        if (status != SQLITE_OK) return status;
        bytes += piece;
        offset += piece;
        amount -= piece;
    } while (amount > 0);
    return SQLITE_OK;
}

static int gatherWrite(sqlite3_file *base, const void *buffer, int amount, sqlite3_int64 offset) {
    GatheringFile *file = (GatheringFile *)base;
    if (!file->wal) return writeInPieces(file->real, buffer, amount, offset);
    pthread_mutex_lock(&file->lock);
    int follows = file->length > 0 && offset == file->start + file->length && file->length + amount <= GATHER_LIMIT;
    int status = follows ? SQLITE_OK : flushLocked(file);
    if (status == SQLITE_OK) {
        if (!file->gathered) file->gathered = sqlite3_malloc(GATHER_LIMIT);
        if (amount > GATHER_LIMIT || !file->gathered) {
            // Too large to gather, or no memory to gather in: written as it comes.
            status = writeInPieces(file->real, buffer, amount, offset);
        } else {
            if (file->length == 0) file->start = offset;
            memcpy(file->gathered + file->length, buffer, (size_t)amount);
            file->length += amount;
        }
    }
    pthread_mutex_unlock(&file->lock);
    return status;
}

static int gatherTruncate(sqlite3_file *base, sqlite3_int64 size) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    return status != SQLITE_OK ? status : file->real->pMethods->xTruncate(file->real, size);
}

static int gatherSync(sqlite3_file *base, int flags) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    return status != SQLITE_OK ? status : file->real->pMethods->xSync(file->real, flags);
}

static int gatherFileSize(sqlite3_file *base, sqlite3_int64 *size) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    return status != SQLITE_OK ? status : file->real->pMethods->xFileSize(file->real, size);
}

static int gatherLock(sqlite3_file *base, int level) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xLock(real, level);
}

static int gatherUnlock(sqlite3_file *base, int level) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xUnlock(real, level);
}

static int gatherCheckReservedLock(sqlite3_file *base, int *reserved) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xCheckReservedLock(real, reserved);
}

static int gatherFileControl(sqlite3_file *base, int op, void *argument) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    return status != SQLITE_OK ? status : file->real->pMethods->xFileControl(file->real, op, argument);
}

static int gatherSectorSize(sqlite3_file *base) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xSectorSize(real);
}

static int gatherDeviceCharacteristics(sqlite3_file *base) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xDeviceCharacteristics(real);
}

static int gatherShmMap(sqlite3_file *base, int page, int size, int extend, void volatile **mapped) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xShmMap(real, page, size, extend, mapped);
}

static int gatherShmLock(sqlite3_file *base, int offset, int count, int flags) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xShmLock(real, offset, count, flags);
}

// The barrier before SQLite publishes a commit in the WAL index: its database's WAL files
// write what they gathered first.
static void gatherShmBarrier(sqlite3_file *base) {
    GatheringFile *file = (GatheringFile *)base;
    pthread_mutex_lock(&walFilesLock);
    for (GatheringFile *wal = walFiles; wal && file->database; wal = wal->next) {
        if (strcmp(wal->database, file->database) != 0) continue;
        pthread_mutex_lock(&wal->lock);
        int status = flushLocked(wal);
        pthread_mutex_unlock(&wal->lock);
        if (status != SQLITE_OK) {
            fprintf(stderr, "lifeline: cannot write the WAL of %s (SQLite error %d); stopping before a commit is published without its pages\n",
                    file->database, status);
            abort();
        }
    }
    pthread_mutex_unlock(&walFilesLock);
    file->real->pMethods->xShmBarrier(file->real);
}

static int gatherShmUnmap(sqlite3_file *base, int delete) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xShmUnmap(real, delete);
}

static int gatherFetch(sqlite3_file *base, sqlite3_int64 offset, int amount, void **pages) {
    GatheringFile *file = (GatheringFile *)base;
    int status = flush(file);
    return status != SQLITE_OK ? status : file->real->pMethods->xFetch(file->real, offset, amount, pages);
}

static int gatherUnfetch(sqlite3_file *base, sqlite3_int64 offset, void *page) {
    sqlite3_file *real = ((GatheringFile *)base)->real;
    return real->pMethods->xUnfetch(real, offset, page);
}

static const sqlite3_io_methods gatheringMethods = {
    3, gatherClose, gatherRead, gatherWrite, gatherTruncate, gatherSync, gatherFileSize, gatherLock, gatherUnlock,
    gatherCheckReservedLock, gatherFileControl, gatherSectorSize, gatherDeviceCharacteristics, gatherShmMap, gatherShmLock,
    gatherShmBarrier, gatherShmUnmap, gatherFetch, gatherUnfetch,
};

static int gatherOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *base, int flags, int *outFlags) {
    (void)vfs;
    GatheringFile *file = (GatheringFile *)base;
    memset(file, 0, sizeof *file);
    file->real = (sqlite3_file *)(file + 1);
    int status = underlying->xOpen(underlying, name, file->real, flags, outFlags);
    if (status != SQLITE_OK || !file->real->pMethods || file->real->pMethods->iVersion < 3) {
        // SQLite calls no method of a file whose open failed; one below version 3 is not wrapped.
        if (status == SQLITE_OK) file->real->pMethods->xClose(file->real);
        return status != SQLITE_OK ? status : SQLITE_CANTOPEN;
    }
    if (name && (flags & SQLITE_OPEN_MAIN_DB)) file->database = name;
    if (name && (flags & SQLITE_OPEN_WAL)) {
        file->database = sqlite3_filename_database(name);
        file->wal = 1;
        pthread_mutex_init(&file->lock, NULL);
        pthread_mutex_lock(&walFilesLock);
        file->next = walFiles;
        walFiles = file;
        pthread_mutex_unlock(&walFilesLock);
    }
    file->base.pMethods = &gatheringMethods;
    return SQLITE_OK;
}

int lifeline_sqlite_gather_wal_writes(void) {
    if (underlying) return SQLITE_OK;
    underlying = sqlite3_vfs_find(NULL);
    if (!underlying) return SQLITE_ERROR;
    // Everything but the open is the default VFS's own, with its own data.
    gathering = *underlying;
    gathering.zName = "lifeline";
    gathering.szOsFile = (int)sizeof(GatheringFile) + underlying->szOsFile;
    gathering.xOpen = gatherOpen;
    gathering.pNext = NULL;
    return sqlite3_vfs_register(&gathering, 1);
}
