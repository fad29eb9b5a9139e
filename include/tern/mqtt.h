/*
 * MQTT 3.1 / 3.1.1 protocol constants (OASIS MQTT 3.1.1, sections 2 and 3).
 */
#ifndef TERN_MQTT_H
#define TERN_MQTT_H

/* Control packet types (2.2.1). */
enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
};

/* CONNACK return codes (3.2.2.3). */
enum mqtt_connack {
    MQTT_CONNACK_ACCEPTED = 0x00,
    MQTT_CONNACK_BAD_PROTOCOL = 0x01,
    MQTT_CONNACK_ID_REJECTED = 0x02,
    MQTT_CONNACK_UNAVAILABLE = 0x03,
    MQTT_CONNACK_BAD_AUTH = 0x04,
    MQTT_CONNACK_NOT_AUTHORIZED = 0x05,
};

#define MQTT_SUBACK_FAILURE 0x80

/* Protocol levels (3.1.2.2). */
#define MQTT_PROTO_V31 3   /* "MQIsdp" */
#define MQTT_PROTO_V311 4  /* "MQTT" */

/* Largest remaining length a 4-byte varint encodes (2.2.3). */
#define MQTT_MAX_REMAINING 268435455u
/* Largest fixed header: 1 type byte + 4 length bytes. */
#define MQTT_MAX_FIXED_HEADER 5
/* Topic names and filters are UTF-8 strings of at most 65535 bytes (1.5.3). */
#define MQTT_MAX_STRING 65535u

#endif
