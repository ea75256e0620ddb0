/* launch.h - run the ranks of a data-parallel job on this machine, one
 * process per GPU (blip-train --gpus N), as torchrun --nproc_per_node does.
 *
 * Each child runs /proc/self/exe with the given arguments and the
 * environment plus RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * BLIP_RUN_ID (one fresh id for the job, naming its rendezvous file; see
 * comm.h) and BLIP_LAUNCHED=1 (a rank is not a launcher again). When a rank fails, the others get SIGTERM (SIGKILL 10 s later)
 * and the launcher reports which one failed and how. */
#ifndef BLIP_LAUNCH_H
#define BLIP_LAUNCH_H

/* Run n ranks of argv (argv[0] is only their name) and wait for them.
 * Returns 0 when all succeeded, else 1 after the message. */
int launch_local(int n, char *const argv[]);

#endif
