;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-findings.scm -- (instar findings), (instar oracles) and
;;; (instar reduce): signatures by shape, the store, merging by copy,
;;; repro.sh, normalisation and reduction.
(use-modules (srfi srfi-64) (srfi srfi-1) (ice-9 ftw) (json)
             (instar findings) (instar oracles) (instar reduce) (instar pickers)
             (instar process) (instar engine) (instar chain))

(define (diff op oracle field e r)
  `(("op" . ,op) ("oracle" . ,oracle) ("field" . ,field) ("engine" . ,e) ("reference" . ,r)))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-findings-test."))

(test-begin "findings")

(test-group "signatures"
  (test-equal "xxh3-128 of a known string" "b5e9c1ad071b3e7fc779cfaa5e523818" (xxh3-128-hex "hello"))
  (let* ((core (false-if-exception (resolve-interface '(instar core))))
         (h (and core (module-variable core 'xxh3-128))))
    (when (and h (variable-bound? h))
      (test-equal "agrees with (instar core)"
        (format #f "~32,'0x" ((variable-ref h) "op=resize|data:compare"))
        (xxh3-128-hex "op=resize|data:compare"))))
  (test-equal "shape" "op=resize|info:virtual-size|length:bytes"
    (canonical-shape (list (diff "resize" "length" "bytes" "1" "2")
                           (diff "resize" "info" "virtual-size" "3" "4"))))
  (test-equal "values (sizes) do not matter"
    (signature (list (diff "resize" "info" "virtual-size" "1048576" "2097152")))
    (signature (list (diff "resize" "info" "virtual-size" "5" "6"))))
  (test-equal "the second resize of a chain is a resize"
    (signature (list (diff "resize" "data" "compare" "differ" "same")))
    (signature (list (diff "resize-2" "data" "compare" "differ" "same"))))
  (test-equal "exit classes: the step kind too"
    "op=resize|exit-class:resize:error/ok"
    (canonical-shape (list (diff "resize-2" "exit-class" "resize-2" "error" "ok"))))
  (test-assert "exit classes matter"
    (not (equal? (signature (list (diff "resize" "exit-class" "resize" "error" "ok")))
                 (signature (list (diff "resize" "exit-class" "resize" "ok" "error"))))))
  (test-assert "fields matter"
    (not (equal? (signature (list (diff "resize" "check" "leaks" "1" "0")))
                 (signature (list (diff "resize" "check" "corruptions" "1" "0"))))))
  (test-assert "operations matter"
    (not (equal? (signature (list (diff "create" "data" "compare" "differ" "same")))
                 (signature (list (diff "resize" "data" "compare" "differ" "same"))))))
  (test-equal "32 hex digits" 32 (string-length (signature (list (diff "resize" "data" "compare" "a" "b"))))))

(define qemu (make-external-engine "qemu-img" "/usr/bin/qemu-img"))
(define case (pick-resize-case (make-rng (iteration-seed 1 2)) #:formats '("qcow2")))
(define chain (case->chain case))
(define diffs (list (diff "resize" "check" "leaks" "1" "0")))
(define sig (signature diffs))

(test-group "store"
  (let ((out (string-append tmp "/a")))
    (test-equal "empty store" '() (list-findings out))
    (store-finding! out sig #:case case #:chain chain
                    #:trace ((@@ (instar chain) make-trace) '()) #:diffs diffs
                    #:seed 1 #:iteration 2 #:engine qemu #:qemu-img qemu
                    #:qemu-io "/usr/bin/qemu-io" #:recipe "test")
    (record-hit! out sig 1 2)
    (record-hit! out sig 1 2)
    (record-hit! out sig 1 9)
    (test-equal "listed" (list sig) (list-findings out))
    (test-equal "a hit again of the same iteration is not double counted" 2
      (finding-hit-count out sig))
    (let ((f (read-json-file (string-append (finding-directory out sig) "/finding.json"))))
      (test-equal "finding.json: signature" sig (assoc-ref f "signature"))
      (test-equal "finding.json: seed" 1 (assoc-ref f "seed"))
      (test-equal "finding.json: iteration" 2 (assoc-ref f "iteration"))
      (test-equal "finding.json: the case" (assoc-ref case "size")
        (assoc-ref (assoc-ref f "case") "size")))
    ;; Another machine's output, merged by copying.
    (let ((out2 (string-append tmp "/b")))
      (record-hit! out2 sig 5 3)
      (system* "cp" "-r" (string-append out2 "/findings/.") (string-append out "/findings/"))
      (test-equal "merging by copy adds the hits" 3 (finding-hit-count out sig))
      (test-equal "and keeps one finding" 1 (length (list-findings out))))))

(test-group "repro.sh"
  (let ((s (repro-script chain #:engine (make-external-engine "x" "/opt/it's/instar-img")
                         #:qemu-img qemu #:qemu-io "/usr/bin/qemu-io" #:title "t" #:replay "1:2")))
    (test-assert "a shell script" (string-prefix? "#!/bin/sh\n" s))
    (test-assert "quotes odd paths" (string-contains s "'/opt/it'\\''s/instar-img'"))
    (test-assert "resizes both images" (string-contains s "'resize'"))
    (test-assert "compares them" (string-contains s "compare -f qcow2"))
    (test-assert "exits with the difference" (string-contains s "exit $status"))))

(test-group "normalisation"
  (let ((info (json-string->scm
               "{\"virtual-size\": 1024, \"filename\": \"/x\", \"actual-size\": 4096,
                 \"format-specific\": {\"type\": \"vmdk\", \"data\": {\"cid\": 12,
                 \"extents\": [{\"filename\": \"/x\", \"virtual-size\": 1024}]}}}")))
    (test-equal "paths, allocation and vmdk cid dropped"
      '(("format-specific.data.extents[0].virtual-size" . 1024)
        ("format-specific.type" . "vmdk")
        ("virtual-size" . 1024))
      (normalise-info info)))
  (let ((r (make-result '("qemu-img") 'error 3 #f
                        "{\"check-errors\": 0, \"leaks\": 2, \"filename\": \"x\", \"image-end-offset\": 9}"
                        "" 0.0)))
    (test-equal "check: status and counters, absent ones 0"
      '(("status" . 3) ("check-errors" . 0) ("corruptions" . 0) ("leaks" . 2)
        ("corruptions-fixed" . 0) ("leaks-fixed" . 0) ("total-clusters" . 0)
        ("allocated-clusters" . 0))
      (normalise-check r))))

(test-group "reduction"
  (let* ((big (pick-resize-case (make-rng (iteration-seed 42 2)) #:formats '("qcow2")))
         (vs (case-variants big)))
    (test-assert "variants exist" (pair? vs))
    (test-assert "no variant equals the case" (not (member big vs)))
    (test-assert "variants keep --shrink right"
      (every (lambda (v) (equal? v (normalise-case v))) vs)))
  ;; A "signature" that only needs qcow2: everything reduces away.
  (let ((c (pick-resize-case (make-rng (iteration-seed 42 2)) #:formats '("qcow2"))))
    (call-with-values
        (lambda () (reduce-case c (lambda (x) (assoc-ref x "format")) #:seconds 10))
      (lambda (r accepted tries timed-out?)
        (test-assert "some steps accepted" (> accepted 0))
        (test-equal "down to the smallest start size" "1M" (assoc-ref r "size"))
        (test-equal "no options left" '() (assoc-ref r "options"))
        (test-assert "within the time limit" (not timed-out?)))))
  (call-with-values
      (lambda () (reduce-case case (lambda (x) "always") #:seconds 0))
    (lambda (r accepted tries timed-out?)
      (test-assert "a zero time limit stops at once" timed-out?))))

(test-end "findings")
(delete-tree tmp)
