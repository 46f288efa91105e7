;;; resize-consistency.scm -- resize VHD, VHDX and VMDK; qemu-img reads.
;;;
;;;   guile -s recipes/resize-consistency.scm --seed 42
;;;
;;; qemu-img cannot resize vpc (VHD), vhdx or vmdk images, so there is no
;;; reference result to compare with.  qemu-img creates the start image
;;; and qemu-io writes patterns; the engine under test resizes it; then
;;; qemu-img is the reader oracle:
;;;   size      `info' reports the new size (vpc: rounded up to its CHS
;;;             geometry, within 1 MiB)
;;;   check     `check' finds no errors, corruptions or leaks (qemu-img
;;;             has no check for vpc)
;;;   kept      every pattern byte below the new end reads back
;;;   zero      the grown range reads as zeros (its first and last MiB)
;;; Every case is labelled with a refusal family (see `classify-resize' in
;;; (instar pickers)): the manual's limits and refusals say whether the
;;; engine must resize it or refuse it.  A refusal is a verdict: it must
;;; leave the file byte-identical, and only a rule for its family (the
;;; same rules as resize-diff's) excuses it, so a refusal of a supported
;;; case is a finding ("unexpected refusal") and an engine that refuses
;;; everything never passes.  Accepting a case whose family must be
;;; refused is a finding too.

;; Find our modules, the extension and instar-img relative to this file
;; (source tree or installed tree): see load-paths.scm beside it.
(include "load-paths.scm")

(use-modules (ice-9 match) (ice-9 format) (srfi srfi-1) (json)
             (instar run) (instar pickers) (instar chain) (instar process)
             (instar oracles) (instar whitelist))

(define (subtract segs a b)
  "The parts of SEGS (a list of (START . END)) outside [A, B)."
  (append-map (lambda (s)
                (filter (lambda (x) (< (car x) (cdr x)))
                        (list (cons (car s) (min (cdr s) a))
                              (cons (max (car s) b) (cdr s)))))
              segs))

(define (visible-patterns patterns end)
  "(BYTE START . STOP) for every byte range a pattern still owns below END:
patterns may overlap, and a later one overwrites an earlier one."
  (let loop ((ps patterns) (acc '()))
    (if (null? ps)
        (reverse acc)
        (let* ((p (car ps))
               (off (assoc-ref p "offset"))
               (segs (fold (lambda (q segs)
                             (subtract segs (assoc-ref q "offset")
                                       (+ (assoc-ref q "offset") (assoc-ref q "length"))))
                           (list (cons off (min end (+ off (assoc-ref p "length")))))
                           (cdr ps))))
          (loop (cdr ps)
                (append (reverse (filter-map (lambda (s)
                                               (and (< (car s) (cdr s))
                                                    (cons (assoc-ref p "byte") s)))
                                             segs))
                        acc))))))

(define (verify-commands case start end)
  (append
   ;; Pattern bytes below the new end.
   (map (lambda (v)
          (format #f "read -P 0x~2,'0x ~d ~d" (car v) (cadr v) (- (cddr v) (cadr v))))
        (visible-patterns (vector->list (assoc-ref case "patterns")) end))
   ;; The grown range: zeros at its start and its end.
   (if (> end start)
       (let ((mib (* 1024 1024)))
         (delete-duplicates
          (list (format #f "read -P 0 ~d ~d" start (min mib (- end start)))
                (let ((off (max start (- end mib))))
                  (format #f "read -P 0 ~d ~d" off (- end off))))))
       '())))

(define (consistency-chain case)
  (let* ((fmt (assoc-ref case "format"))
         (start (parse-size-string (assoc-ref case "size")))
         (r (vector-ref (assoc-ref case "resizes") 0))
         (end (resolve-spec start (assoc-ref r "spec"))))
    `((("step" . "create") ("side" . "reference") ("format" . ,fmt)
       ("size" . ,(assoc-ref case "size")) ("options" . ,(assoc-ref case "options"))
       ("prealloc" . "off"))
      (("step" . "write-pattern") ("side" . "reference")
       ("patterns" . ,(assoc-ref case "patterns")))
      (("step" . "copy") ("side" . "engine"))
      (("step" . "resize") ("name" . "resize") ("side" . "engine")
       ("spec" . ,(assoc-ref r "spec")) ("shrink" . ,(assoc-ref r "shrink"))
       ("prealloc" . ,(let ((p (assoc-ref r "prealloc"))) (and (string? p) p))))
      (("step" . "info") ("side" . "engine"))
      (("step" . "check") ("side" . "engine"))
      (("step" . "verify") ("side" . "engine")
       ("commands" . ,(list->vector (verify-commands case start (max end 0))))))))

(define (mkdiff oracle field got want)
  `(("op" . "resize") ("oracle" . ,oracle) ("field" . ,field)
    ("engine" . ,(format #f "~a" got)) ("reference" . ,(format #f "~a" want))))

(define (first-line s)
  (let ((l (string-split (string-trim-both s) #\newline)))
    (if (null? l) "" (car l))))

(define (execute case ctx)
  (let* ((chain (consistency-chain case))
         (trace (run-chain chain (context-engine ctx)
                           #:qemu-img (context-qemu-img ctx) #:qemu-io (context-qemu-io ctx)
                           #:timeout (context-timeout ctx) #:tmpdir (context-tmpdir ctx)))
         (fmt (assoc-ref case "format"))
         (start (parse-size-string (assoc-ref case "size")))
         (end (resolve-spec start (assoc-ref (vector-ref (assoc-ref case "resizes") 0) "spec")))
         (res (lambda (n s) (trace-result trace n s)))
         (family (assoc-ref (vector-ref (assoc-ref case "resizes") 0) "family"))
         (expect (assoc-ref (vector-ref (assoc-ref case "resizes") 0) "expect")))
    (define (done verdict diffs reason) (values verdict diffs reason chain trace))
    (cond
     ((any (lambda (s) (and (result? (caddr s))
                            (memq (result-class (caddr s)) '(timeout spawn-failed))))
           (trace-steps trace))
      (done 'inconclusive '() "timeout or tool failure"))
     ((not (and (res "create" "reference") (result-ok? (res "create" "reference"))
                (res "copy" "engine") (result-ok? (res "copy" "engine"))))
      (done 'inconclusive '() "qemu-img could not make the start image"))
     ((eq? (result-class (res "resize" "engine")) 'signal)
      (done 'divergence (list (mkdiff "exit-class" "resize" "crash" "ok")) #f))
     ((and (result-ok? (res "resize" "engine")) (equal? expect "refuse"))
      ;; The manual says this must be refused: the engine accepted it.
      (done 'divergence
            (list `(("op" . "resize") ("oracle" . "exit-class") ("field" . "resize")
                    ("engine" . "ok") ("reference" . "error") ("family" . ,family)))
            #f))
     ((not (result-ok? (res "resize" "engine")))
      (let* ((r (res "resize" "engine"))
             (before (res "resize:before" "engine"))
             (after (res "resize:after" "engine")))
        (if (equal? before after)
            (done 'divergence (refusal-diffs "resize" "resize" family expect)
                  (format #f "~a: ~a" fmt (first-line (string-append (result-stderr r)
                                                                      (result-stdout r)))))
            (done 'divergence (list (mkdiff "untouched" "file" "changed" "unchanged")) #f))))
     (else
      (let* ((info (false-if-exception (json-string->scm (result-stdout (res "info" "engine")))))
             (vsize (and info (assoc-ref info "virtual-size")))
             (want (* 512 (quotient (+ end 511) 512)))
             (check (false-if-exception (json-string->scm (result-stdout (res "check" "engine")))))
             (verify (res "verify" "engine"))
             (diffs
              (append
               (cond ((not vsize) (list (mkdiff "size" "info" "unreadable" want)))
                     ((if (equal? fmt "vpc")
                          (and (>= vsize want) (< vsize (+ want (* 1024 1024))))
                          (= vsize want))
                      '())
                     (else (list (mkdiff "size" "virtual-size" vsize want))))
               (if (or (string-contains (result-stderr (res "check" "engine"))
                                        "does not support checks")
                       (and check
                        (every (lambda (k) (eqv? 0 (or (assoc-ref check k) 0)))
                               '("check-errors" "corruptions" "leaks"))))
                   '()
                   (list (mkdiff "check" "clean" (if check "errors" "failed") "clean")))
               (if (and verify (result-ok? verify)
                        (not (string-contains (result-stdout verify) "fail"))
                        (not (string-contains (result-stderr verify) "fail")))
                   '()
                   (list (mkdiff "data" "kept-and-zero" "mismatch" "pattern"))))))
        (if (null? diffs)
            (done 'match '() #f)
            (done 'divergence diffs #f)))))))

(define help "\
usage: guile -s resize-consistency.scm [OPTIONS]

Resize VHD (vpc), VHDX and VMDK images with the engine under test and let
qemu-img read the result: new size, check clean, data kept, new range
zero.  Each case knows whether the manual says it must be resized or
refused: an unexpected refusal, a refusal that changes the file, or an
accepted case that must be refused is a finding.  Options as
resize-diff (see resize-diff(1)); --formats vpc,vhdx,vmdk (default: all).
")

(run-recipe "resize-consistency" (cdr (command-line))
            #:pick-with (lambda (ops formats)
                          (lambda (rng) (pick-consistency-case rng #:formats formats)))
            #:execute execute
            ;; The refusal families these formats can draw (no qcow2 ones).
            #:rules (filter (lambda (r)
                              (not (member (rule-id r)
                                           '("refuses-corrupt" "refuses-v2-snapshots"
                                             "refuses-bad-create-option" "refuses-held"))))
                            resize-refusal-rules)
            #:default-ops '("consistency")
            #:default-formats '("vpc" "vhdx" "vmdk")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help)
