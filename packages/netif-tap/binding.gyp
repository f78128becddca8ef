{
  "targets": [
    {
      "target_name": "atoll_tap",
      "conditions": [
        [
          "OS=='linux'",
          {
            "sources": ["native/tap.c"],
            "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"]
          }
        ]
      ]
    }
  ]
}
