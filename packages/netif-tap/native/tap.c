// The native half of @atoll/netif-tap: opens a Linux TAP device and moves
// frames between it and buffers owned by JavaScript.
//
// - open(): /dev/net/tun with IFF_TAP | IFF_NO_PI, then the interface's MAC,
//   MTU and UP flag through the usual SIOC ioctls. Errors are thrown as
//   Error objects with `code` (errno name), `errno` and `syscall`; the
//   TypeScript side turns them into typed AtollErrors.
// - TapHandle: owns the descriptor and a libuv poll handle on it. When the
//   descriptor is readable it reads frames until EAGAIN into a fixed arena
//   (one slot per frame) and hands the whole batch to JavaScript in one call.
//   flush() writes a run of queued frames from the transmit ring in one call
//   and stops at EAGAIN; JavaScript then asks for a writable wake-up.
//
// No thread pool, no blocking reads, no busy polling: everything happens on
// the event loop thread, driven by epoll through uv_poll.

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

// At most this many batches are read per wake-up, so that a flood on one
// device cannot starve the rest of the event loop (epoll is level-triggered:
// what is left is read on the next turn).
#define MAX_ROUNDS_PER_WAKEUP 4

enum { EVENT_FRAMES = 0, EVENT_WRITABLE = 1, EVENT_ERROR = 2 };

#define CHECK(env, call)                                                     \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      const napi_extended_error_info* info_ = NULL;                          \
      napi_get_last_error_info((env), &info_);                               \
      bool pending_ = false;                                                 \
      napi_is_exception_pending((env), &pending_);                           \
      if (!pending_)                                                         \
        napi_throw_error((env), "ATOLL_TAP_NAPI",                            \
                         info_ && info_->error_message ? info_->error_message \
                                                       : "N-API call failed"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

// ---- errors -------------------------------------------------------------------------------

static const char* errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case EBADF: return "EBADF";
    case EBADFD: return "EBADFD";
    case EIO: return "EIO";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENOTTY: return "ENOTTY";
    case EFAULT: return "EFAULT";
    case ENOSPC: return "ENOSPC";
    default: return "UNKNOWN";
  }
}

// Throws an Error with code/errno/syscall, like Node's own system errors.
static void throw_errno(napi_env env, int err, const char* syscall, const char* ifname) {
  char message[256];
  snprintf(message, sizeof message, "%s %s%s%s: %s", syscall, ifname ? "(" : "", ifname ? ifname : "",
           ifname ? ")" : "", strerror(err));
  napi_value msg, error, code, errnum, sys;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return;
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok) return;
  if (napi_create_error(env, NULL, msg, &error) != napi_ok) return;
  napi_create_int32(env, err, &errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
}

// ---- argument helpers --------------------------------------------------------------------------

// Copies a JavaScript string into `out`; false when it is not a string or does not fit.
static bool get_string(napi_env env, napi_value value, char* out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok || len + 1 > size)
    return false;
  return napi_get_value_string_utf8(env, value, out, size, &len) == napi_ok;
}

static bool get_bytes(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) return false;
  napi_typedarray_type type;
  size_t count = 0;
  void* ptr = NULL;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &type, &count, &ptr, &buffer, &offset) != napi_ok)
    return false;
  size_t elem = type == napi_int32_array || type == napi_uint32_array ? 4 : 1;
  if (elem == 1 && type != napi_uint8_array) return false;
  *data = ptr;
  *length = count * elem;
  return true;
}

// ---- open ------------------------------------------------------------------------------------

// open(clonePath, name, mtu, hostMac | null) -> { fd, name, ifindex, mtu, hostMac, wasUp }
// mtu 0 keeps the interface's MTU; hostMac null keeps its MAC.
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "open(clonePath, name, mtu, hostMac)");
    return NULL;
  }
  char path[256];
  char name[IFNAMSIZ + 1];
  if (!get_string(env, argv[0], path, sizeof path) || !get_string(env, argv[1], name, sizeof name) ||
      strlen(name) >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "bad clone path or interface name");
    return NULL;
  }
  int32_t mtu = 0;
  CHECK(env, napi_get_value_int32(env, argv[2], &mtu));
  uint8_t* host_mac = NULL;
  size_t host_mac_len = 0;
  napi_valuetype mac_type;
  CHECK(env, napi_typeof(env, argv[3], &mac_type));
  if (mac_type != napi_null && mac_type != napi_undefined &&
      (!get_bytes(env, argv[3], &host_mac, &host_mac_len) || host_mac_len != 6)) {
    napi_throw_type_error(env, NULL, "hostMac must be 6 bytes");
    return NULL;
  }

  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, errno, "open", path);
    return NULL;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name));  // strlen(name) < IFNAMSIZ, checked above
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "TUNSETIFF", name);
    return NULL;
  }
  char actual[IFNAMSIZ];
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ - 1] = 0;

  // Interface ioctls go through any socket; AF_INET exists in every namespace.
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "socket", actual);
    return NULL;
  }
  const char* failed = NULL;
  struct ifreq req;
#define IFREQ_RESET()               \
  memset(&req, 0, sizeof req);      \
  memcpy(req.ifr_name, actual, IFNAMSIZ)

  if (host_mac != NULL) {
    IFREQ_RESET();
    if (ioctl(sock, SIOCGIFHWADDR, &req) < 0) failed = "SIOCGIFHWADDR";
    else if (memcmp(req.ifr_hwaddr.sa_data, host_mac, 6) != 0) {
      IFREQ_RESET();
      req.ifr_hwaddr.sa_family = ARPHRD_ETHER;
      memcpy(req.ifr_hwaddr.sa_data, host_mac, 6);
      if (ioctl(sock, SIOCSIFHWADDR, &req) < 0) failed = "SIOCSIFHWADDR";
    }
  }
  int current_mtu = 0;
  if (!failed) {
    IFREQ_RESET();
    if (ioctl(sock, SIOCGIFMTU, &req) < 0) failed = "SIOCGIFMTU";
    else current_mtu = req.ifr_mtu;
  }
  // Only change what differs, so an unprivileged owner of a persistent,
  // pre-configured device (ip tuntap add ... user) can open it.
  if (!failed && mtu > 0 && mtu != current_mtu) {
    IFREQ_RESET();
    req.ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, &req) < 0) failed = "SIOCSIFMTU";
    else current_mtu = mtu;
  }
  bool was_up = false;
  if (!failed) {
    IFREQ_RESET();
    if (ioctl(sock, SIOCGIFFLAGS, &req) < 0) failed = "SIOCGIFFLAGS";
    else {
      was_up = (req.ifr_flags & IFF_UP) != 0;
      if (!was_up) {
        req.ifr_flags |= IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &req) < 0) failed = "SIOCSIFFLAGS";
      }
    }
  }
  uint8_t mac[6] = {0};
  if (!failed) {
    IFREQ_RESET();
    if (ioctl(sock, SIOCGIFHWADDR, &req) < 0) failed = "SIOCGIFHWADDR";
    else memcpy(mac, req.ifr_hwaddr.sa_data, 6);
  }
  int ifindex = 0;
  if (!failed) {
    IFREQ_RESET();
    if (ioctl(sock, SIOCGIFINDEX, &req) < 0) failed = "SIOCGIFINDEX";
    else ifindex = req.ifr_ifindex;
  }
#undef IFREQ_RESET
  int err = errno;
  close(sock);
  if (failed) {
    close(fd);
    throw_errno(env, err, failed, actual);
    return NULL;
  }

  napi_value result, v_fd, v_name, v_index, v_mtu, v_mac, v_mac_buffer, v_up;
  void* mac_data = NULL;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_int32(env, fd, &v_fd));
  CHECK(env, napi_create_string_utf8(env, actual, NAPI_AUTO_LENGTH, &v_name));
  CHECK(env, napi_create_int32(env, ifindex, &v_index));
  CHECK(env, napi_create_int32(env, current_mtu, &v_mtu));
  CHECK(env, napi_create_arraybuffer(env, 6, &mac_data, &v_mac_buffer));
  memcpy(mac_data, mac, 6);
  CHECK(env, napi_create_typedarray(env, napi_uint8_array, 6, v_mac_buffer, 0, &v_mac));
  CHECK(env, napi_get_boolean(env, was_up, &v_up));
  CHECK(env, napi_set_named_property(env, result, "fd", v_fd));
  CHECK(env, napi_set_named_property(env, result, "name", v_name));
  CHECK(env, napi_set_named_property(env, result, "ifindex", v_index));
  CHECK(env, napi_set_named_property(env, result, "mtu", v_mtu));
  CHECK(env, napi_set_named_property(env, result, "hostMac", v_mac));
  CHECK(env, napi_set_named_property(env, result, "wasUp", v_up));
  return result;
}

// closeFd(fd): for a descriptor that open() returned but no TapHandle took.
static napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

// ---- TapHandle -----------------------------------------------------------------------------------

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t poll;
  bool poll_initialised;
  bool closed;         // close() was called (or the environment is going away)
  bool handle_closed;  // libuv is done with `poll`
  bool finalized;      // the JavaScript object is gone
  bool want_writable;
  bool polling;
  napi_ref self;  // strong while the device is open, so the object outlives its poll handle
  napi_ref on_event;
  napi_ref rx_arena_ref, rx_lengths_ref, tx_arena_ref, tx_lengths_ref, status_ref;
  napi_async_context async_context;
  uint8_t* rx_arena;
  int32_t* rx_lengths;
  uint32_t rx_slots;
  uint8_t* tx_arena;
  int32_t* tx_lengths;
  uint32_t tx_slots;
  uint32_t slot_size;
  int32_t* status;  // [failed frames of the last flush, last errno, stopped at EAGAIN]
} tap_t;

static void delete_ref(napi_env env, napi_ref* ref) {
  if (*ref != NULL) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

static void release_js(tap_t* t) {
  napi_env env = t->env;
  delete_ref(env, &t->on_event);
  delete_ref(env, &t->rx_arena_ref);
  delete_ref(env, &t->rx_lengths_ref);
  delete_ref(env, &t->tx_arena_ref);
  delete_ref(env, &t->tx_lengths_ref);
  delete_ref(env, &t->status_ref);
  if (t->async_context != NULL) {
    napi_async_destroy(env, t->async_context);
    t->async_context = NULL;
  }
  t->rx_arena = t->tx_arena = NULL;
  t->rx_lengths = t->tx_lengths = t->status = NULL;
}

static void on_handle_closed(uv_handle_t* handle) {
  tap_t* t = handle->data;
  t->handle_closed = true;
  if (t->finalized) free(t);
}

// Stops polling and closes the descriptor at once, so that the device is gone
// (or free for another opener) when close() returns. uv_close on a poll handle
// removes the descriptor from epoll and drops its pending events before it
// returns, so libuv never touches it again; only the handle's memory waits for
// the close callback.
static void shut(tap_t* t) {
  if (t->closed) return;
  t->closed = true;
  if (t->poll_initialised) {
    uv_poll_stop(&t->poll);
    uv_close((uv_handle_t*)&t->poll, on_handle_closed);
  } else {
    t->handle_closed = true;
  }
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
}

static void cleanup_hook(void* arg) {
  tap_t* t = arg;
  shut(t);
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  tap_t* t = data;
  napi_remove_env_cleanup_hook(env, cleanup_hook, t);
  shut(t);
  release_js(t);
  delete_ref(env, &t->self);
  t->finalized = true;
  if (t->handle_closed) free(t);
}

static void on_poll(uv_poll_t* handle, int status, int events);

static int update_poll(tap_t* t) {
  if (t->closed || !t->poll_initialised) return 0;
  int events = UV_READABLE | (t->want_writable ? UV_WRITABLE : 0);
  t->polling = true;
  return uv_poll_start(&t->poll, events, on_poll);
}

// Calls the JavaScript event handler: (kind, value). An exception it lets
// escape is reported like any uncaught exception.
static void emit(tap_t* t, int kind, int value) {
  napi_env env = t->env;
  if (t->on_event == NULL) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[2];
  if (napi_get_reference_value(env, t->on_event, &fn) == napi_ok && fn != NULL &&
      napi_get_reference_value(env, t->self, &recv) == napi_ok && recv != NULL) {
    napi_create_int32(env, kind, &argv[0]);
    napi_create_int32(env, value, &argv[1]);
    napi_status s = napi_make_callback(env, t->async_context, recv, fn, 2, argv, NULL);
    if (s == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t* handle, int status, int events) {
  tap_t* t = handle->data;
  if (t->closed) return;
  if (status < 0) {
    uv_poll_stop(&t->poll);
    t->polling = false;
    emit(t, EVENT_ERROR, -status);
    return;
  }
  if ((events & UV_WRITABLE) && t->want_writable) {
    t->want_writable = false;
    update_poll(t);
    emit(t, EVENT_WRITABLE, 0);
    if (t->closed) return;
  }
  if (!(events & UV_READABLE)) return;
  for (int round = 0; round < MAX_ROUNDS_PER_WAKEUP && !t->closed; round++) {
    uint32_t n = 0;
    int err = 0;
    while (n < t->rx_slots) {
      ssize_t r = read(t->fd, t->rx_arena + (size_t)n * t->slot_size, t->slot_size);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      // The kernel reports a frame's full length even when it did not fit the
      // slot: JavaScript sees length > slot size and counts a drop.
      t->rx_lengths[n++] = r > INT32_MAX ? INT32_MAX : (int32_t)r;
    }
    if (n > 0) emit(t, EVENT_FRAMES, (int)n);
    if (err != 0) {
      if (!t->closed) {
        uv_poll_stop(&t->poll);
        t->polling = false;
        emit(t, EVENT_ERROR, err);
      }
      return;
    }
    if (n < t->rx_slots) break;
  }
}

static tap_t* unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  tap_t* t = NULL;
  if (napi_unwrap(env, self, (void**)&t) != napi_ok) return NULL;
  return t;
}

static bool take_array(napi_env env, napi_value value, napi_ref* ref, void** data, size_t* bytes) {
  uint8_t* ptr = NULL;
  if (!get_bytes(env, value, &ptr, bytes)) return false;
  *data = ptr;
  return napi_create_reference(env, value, 1, ref) == napi_ok;
}

// new TapHandle(fd, rxArena, rxLengths, txArena, txLengths, slotSize, status, onEvent)
// rxArena/txArena: Uint8Array of slots * slotSize bytes; rx/txLengths: Int32Array, one per slot;
// status: Int32Array(3). The handle owns fd once the constructor returns; if it throws,
// the descriptor is still the caller's to close.
static napi_value New(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "TapHandle(fd, rxArena, rxLengths, txArena, txLengths, slotSize, status, onEvent)");
    return NULL;
  }
  tap_t* t = calloc(1, sizeof *t);
  if (t == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  t->env = env;
  t->fd = -1;
  int32_t fd = -1, slot_size = 0;
  size_t rx_bytes = 0, rx_len_bytes = 0, tx_bytes = 0, tx_len_bytes = 0, status_bytes = 0;
  napi_valuetype fn_type = napi_undefined;
  bool ok = napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0 &&
            napi_get_value_int32(env, argv[5], &slot_size) == napi_ok && slot_size >= 64 &&
            take_array(env, argv[1], &t->rx_arena_ref, (void**)&t->rx_arena, &rx_bytes) &&
            take_array(env, argv[2], &t->rx_lengths_ref, (void**)&t->rx_lengths, &rx_len_bytes) &&
            take_array(env, argv[3], &t->tx_arena_ref, (void**)&t->tx_arena, &tx_bytes) &&
            take_array(env, argv[4], &t->tx_lengths_ref, (void**)&t->tx_lengths, &tx_len_bytes) &&
            take_array(env, argv[6], &t->status_ref, (void**)&t->status, &status_bytes) &&
            napi_typeof(env, argv[7], &fn_type) == napi_ok && fn_type == napi_function;
  if (ok) {
    t->slot_size = (uint32_t)slot_size;
    t->rx_slots = (uint32_t)(rx_len_bytes / 4);
    t->tx_slots = (uint32_t)(tx_len_bytes / 4);
    ok = t->rx_slots > 0 && t->tx_slots > 0 && rx_bytes >= (size_t)t->rx_slots * t->slot_size &&
         tx_bytes >= (size_t)t->tx_slots * t->slot_size && status_bytes >= 12;
  }
  if (!ok) {
    release_js(t);
    free(t);
    napi_throw_type_error(env, NULL, "TapHandle: bad arguments");
    return NULL;
  }
  napi_value resource_name;
  CHECK(env, napi_create_string_utf8(env, "AtollTap", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(env, napi_async_init(env, NULL, resource_name, &t->async_context));
  CHECK(env, napi_create_reference(env, argv[7], 1, &t->on_event));

  uv_loop_t* loop = NULL;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  t->fd = fd;
  t->poll.data = t;
  int rc = uv_poll_init(loop, &t->poll, fd);
  if (rc < 0) {
    // The descriptor stays the caller's on failure.
    release_js(t);
    free(t);
    throw_errno(env, -rc, "uv_poll_init", NULL);
    return NULL;
  }
  t->poll_initialised = true;
  if (napi_wrap(env, self, t, finalize, NULL, &t->self) != napi_ok) {
    t->finalized = true;
    t->fd = -1;  // still the caller's
    release_js(t);
    shut(t);  // frees t once libuv has closed the handle
    return NULL;
  }
  napi_reference_ref(env, t->self, NULL);
  napi_add_env_cleanup_hook(env, cleanup_hook, t);
  return self;
}

// start(): begins polling for readable frames.
static napi_value Start(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tap_t* t = unwrap(env, info, &argc, NULL);
  if (t == NULL || t->closed) return NULL;
  int rc = update_poll(t);
  if (rc < 0) throw_errno(env, -rc, "uv_poll_start", NULL);
  return NULL;
}

// wantWritable(): asks for one EVENT_WRITABLE when the descriptor can take frames again.
static napi_value WantWritable(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tap_t* t = unwrap(env, info, &argc, NULL);
  if (t == NULL || t->closed || !t->polling) return NULL;
  if (!t->want_writable) {
    t->want_writable = true;
    update_poll(t);
  }
  return NULL;
}

// flush(head, count) -> frames consumed from the ring. Writes the frames in
// slots head, head+1, ... (mod slots). Stops early only at EAGAIN (status[2] =
// 1); a frame the kernel refuses for another reason is consumed, counted in
// status[0] (its errno in status[1]) and its length negated.
static napi_value Flush(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  tap_t* t = unwrap(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint32_t head = 0, count = 0;
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &head) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "flush(head, count)");
    return NULL;
  }
  if (t->closed || t->status == NULL) {
    CHECK(env, napi_create_uint32(env, 0, &result));
    return result;
  }
  if (count > t->tx_slots) count = t->tx_slots;
  head %= t->tx_slots;
  uint32_t done = 0;
  int32_t failed = 0, last_errno = 0, again = 0;
  while (done < count) {
    uint32_t slot = (head + done) % t->tx_slots;
    int32_t len = t->tx_lengths[slot];
    if (len < 0 || (uint32_t)len > t->slot_size) len = 0;
    ssize_t w = write(t->fd, t->tx_arena + (size_t)slot * t->slot_size, (size_t)len);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        again = 1;
        break;
      }
      failed++;
      last_errno = errno;
      t->tx_lengths[slot] = -len;  // tells JavaScript which frames were refused
    }
    done++;
  }
  t->status[0] = failed;
  t->status[1] = last_errno;
  t->status[2] = again;
  CHECK(env, napi_create_uint32(env, done, &result));
  return result;
}

// close(): stops polling and closes the descriptor. Idempotent.
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tap_t* t = unwrap(env, info, &argc, NULL);
  if (t == NULL || t->closed) return NULL;
  napi_remove_env_cleanup_hook(env, cleanup_hook, t);
  shut(t);
  release_js(t);
  // The object may now be collected; finalize frees the struct once libuv is done too.
  napi_reference_unref(env, t->self, NULL);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"start", NULL, Start, NULL, NULL, NULL, napi_default_method, NULL},
      {"wantWritable", NULL, WantWritable, NULL, NULL, NULL, napi_default_method, NULL},
      {"flush", NULL, Flush, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls, open_fn, close_fn;
  CHECK(env, napi_define_class(env, "TapHandle", NAPI_AUTO_LENGTH, New, NULL,
                               sizeof methods / sizeof methods[0], methods, &cls));
  CHECK(env, napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, NULL, &open_fn));
  CHECK(env, napi_create_function(env, "closeFd", NAPI_AUTO_LENGTH, CloseFd, NULL, &close_fn));
  CHECK(env, napi_set_named_property(env, exports, "TapHandle", cls));
  CHECK(env, napi_set_named_property(env, exports, "open", open_fn));
  CHECK(env, napi_set_named_property(env, exports, "closeFd", close_fn));
  return exports;
}
