/*
 * Error codes shared by every Tern module.
 *
 * Functions that can fail return int: TERN_OK (0) or one of the negative TERN_E* codes below.
 * Results travel through out-parameters. tern_strerror() turns a code into a short English text.
 */
#ifndef TERN_ERR_H
#define TERN_ERR_H

#define TERN_OK          0
#define TERN_EAGAIN     -1  /* not enough bytes yet / would block */
#define TERN_EMALFORMED -2  /* bytes violate the MQTT wire syntax */
#define TERN_EPROTO     -3  /* well-formed but forbidden by the protocol */
#define TERN_ENOMEM     -4  /* allocation failed or memory cap reached */
#define TERN_ETOOBIG    -5  /* packet larger than message_size_limit */
#define TERN_EIO        -6  /* system call failed */
#define TERN_ECONF      -7  /* configuration error */
#define TERN_ELIMIT     -8  /* a configured limit was reached */
#define TERN_ENOTFOUND  -9  /* no such entry */
#define TERN_EINVAL    -10  /* invalid argument */
#define TERN_ECLOSED   -11  /* peer closed the connection */

const char *tern_strerror(int err);

#endif
