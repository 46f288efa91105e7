;;; SPDX-License-Identifier: GPL-3.0-or-later
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
;;; Every independent reader found on the machine (or those --readers
;;; names) then reads the same image: it opens, shows qemu's size and the
;;; same bytes in those ranges ((instar readers): libvhdi and 7-Zip for vpc
;;; and vhdx, libvmdk and 7-Zip for vmdk).  A reader's documented limits
;;; are whitelist rules (reader-rules in (instar whitelist)).

;; Find our modules, the extension and instar-img relative to this file
;; (source tree or installed tree): see load-paths.scm beside it.
(include "load-paths.scm")

(use-modules (ice-9 match) (ice-9 format) (srfi srfi-1) (json) (ice-9 threads)
             (instar run) (instar pickers) (instar chain) (instar process)
             (instar oracles) (instar readers) (instar whitelist))

;;; --readers LIST: this recipe's own option, taken out before run-recipe
;;; sees the arguments.
(define-values (readers recipe-args)
  (take-readers-option "resize-consistency" (cdr (command-line))))
(define reader-tally   ; the readers of this recipe's formats
  (make-reader-tally (filter (lambda (r) (any (lambda (f) (member f (reader-formats r)))
                                              (list "vpc" "vhdx" "vmdk")))
                             readers)))

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

(define (check-ranges case start end)
  "(BYTE OFFSET LENGTH) for what a reader must read back: the patterns'
visible bytes and zeros in the grown range (its first and last MiB)."
  (append
   (map (lambda (v) (list (car v) (cadr v) (- (cddr v) (cadr v))))
        (visible-patterns (vector->list (assoc-ref case "patterns")) end))
   (if (> end start)
       (let* ((mib (* 1024 1024))
              (a (list 0 start (min mib (- end start))))
              (off (max start (- end mib)))
              (b (list 0 off (- end off))))
         (if (equal? a b) (list a) (list a b)))
       '())))

(define (case-readers case)
  (readers-for-format readers (assoc-ref case "format")))

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
       ("commands" . ,(list->vector (verify-commands case start (max end 0)))))
      ,@(map (lambda (r) (reader-step r fmt (check-ranges case start (max end 0))))
             (case-readers case)))))

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
        (let ((diffs (append diffs (reader-oracles case trace (or vsize 0) start end))))
          (if (null? diffs)
              (done 'match '() #f)
              (done 'divergence diffs #f))))))))

(define (reader-oracles case trace vsize start end)
  "Every reader's diffs for CASE, tallied per reader."
  (append-map
   (lambda (r)
     (let* ((res (trace-result trace (string-append "reader:" r) "engine"))
            (ds (reader-diffs r res vsize (check-ranges case start (max end 0))
                              #:grown-from (and (> end start) start))))
       (tally-reader! reader-tally r "read")
       (if (null? ds)
           (tally-reader! reader-tally r "agree")
           (call-with-values (lambda () (apply-whitelist reader-rules case ds))
             (lambda (left ids)
               (tally-reader! reader-tally r (if (null? left) "whitelisted" "disagree")))))
       ds))
   (case-readers case)))

(define help "\
usage: guile -s resize-consistency.scm [OPTIONS]

Resize VHD (vpc), VHDX and VMDK images with the engine under test and let
qemu-img read the result: new size, check clean, data kept, new range
zero; then every independent reader (libvhdi, libvmdk, 7-Zip) reads the
same image: it must open it with qemu's size and bytes.  Each case knows
whether the manual says it must be resized or refused: an unexpected
refusal, a refusal that changes the file, or an accepted case that must
be refused is a finding.  Options as resize-diff (see resize-diff(1));
--formats vpc,vhdx,vmdk (default: all); --readers LIST
(libvhdi,libvmdk,7zip; default: every one installed; a listed reader
that is missing is an environment error, exit 3).  The per-reader counts
(every read, the reducer's replays of a finding included) go to standard
error and OUT/readers.json.
")

(dynamic-wind
  (lambda () #t)
  (lambda ()
(run-recipe "resize-consistency" recipe-args
            #:pick-with (lambda (ops formats)
                          (lambda (rng) (pick-consistency-case rng #:formats formats)))
            #:execute execute
            ;; The refusal families these formats can draw (no qcow2 ones),
            ;; and the readers' documented limits.
            #:rules (append
                     (filter (lambda (r)
                               (not (member (rule-id r)
                                            '("refuses-corrupt" "refuses-v2-snapshots"
                                              "refuses-bad-create-option" "refuses-held"))))
                             resize-refusal-rules)
                     reader-rules)
            #:default-ops '("consistency")
            #:default-formats '("vpc" "vhdx" "vmdk")
            #:instar-img (getenv "INSTAR_IMG")
            #:help-text help))
  (lambda () (report-reader-tally reader-tally (recipe-out-directory recipe-args))))
