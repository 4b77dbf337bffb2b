#ifndef LIFELINE_PROGRAM_SETUP_H
#define LIFELINE_PROGRAM_SETUP_H

// Shared by the two ways a child starts a program (under a reaper, or directly), in a child
// of a multi-threaded process: system calls only (program_setup.c).

/// Gives a program what it would have had from the process's start: default signal
/// dispositions, no signal blocked, a process group of its own, the file-creation mask and
/// open-files limit the process started with.
void lifeline_prepare_program(void);

/// Closes every descriptor from `first` on.
void lifeline_close_from(int first);

#endif
