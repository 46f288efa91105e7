;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-consistency.scm -- the consistency oracle of (instar oracles):
;;; the chain it judges and the byte ranges a reader must read back.
(use-modules (srfi srfi-64) (srfi srfi-1) (instar oracles) (instar pickers))

(test-begin "consistency")

(define case
  `(("op" . "consistency") ("format" . "vhdx") ("start-mode" . "shared")
    ("size" . "16M") ("options" . ()) ("create-prealloc" . "off")
    ("patterns" . #((("offset" . 0) ("length" . 4096) ("byte" . 7))
                    (("offset" . 1024) ("length" . 512) ("byte" . 9))))
    ("resizes" . #((("spec" . "+4M") ("shrink" . #f) ("prealloc" . null)
                    ("family" . "ordinary") ("expect" . "ok"))))
    ("image-state" . "clean")))

(let ((chain (consistency-chain case)))
  (test-equal "the steps, in order"
    '("create" "write-pattern" "copy" "resize" "info" "check" "verify")
    (map (lambda (s) (assoc-ref s "step")) chain))
  (test-equal "the reference makes the start image, the engine resizes"
    '("reference" "reference" "engine" "engine")
    (map (lambda (s) (assoc-ref s "side")) (take chain 4)))
  (test-equal "verify reads the visible pattern bytes and the grown zeros"
    #("read -P 0x07 0 1024" "read -P 0x07 1536 2560" "read -P 0x09 1024 512"
      "read -P 0 16777216 1048576" "read -P 0 19922944 1048576")
    (assoc-ref (last chain) "commands")))

(let ((m (* 1024 1024)))
  (test-equal "reader ranges: each pattern's visible bytes (a later one wins), then zeros"
    `((7 0 1024) (7 1536 2560) (9 1024 512) (0 ,(* 16 m) ,m) (0 ,(* 19 m) ,m))
    (consistency-check-ranges case (* 16 m) (* 20 m)))
  (test-equal "a shrink cuts the patterns and reads no zeros"
    '((7 0 1024) (7 1536 464) (9 1024 512))
    (consistency-check-ranges case (* 16 m) 2000)))

(test-end "consistency")
