# Chooses the platform files from the OS, the poller and the board. Only this file and the
# files it names know which OS or board Tern is built for.

UNAME_S := $(shell uname -s)
BOARD   ?= linux-generic

ifeq ($(POLLER),)
  ifeq ($(UNAME_S),Linux)
    POLLER := epoll
  else
    POLLER := poll
  endif
endif

ifeq ($(POLLER),epoll)
  PLAT_POLL := platform/poll_epoll.c
else ifeq ($(POLLER),poll)
  PLAT_POLL := platform/poll_posix.c
else
  $(error POLLER must be epoll or poll, not '$(POLLER)')
endif

PLAT_SRC := $(PLAT_POLL) platform/time_posix.c platform/os_posix.c

include platform/board/$(BOARD).mk
BOARD_CFLAGS += -include platform/board/$(BOARD).h
