;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar readers) -- independent readers as oracles.
;;;
;;; qemu-img is not the only program that opens VHD, VHDX, VMDK and qcow2
;;; images.  Readers written without qemu's code -- libyal's libvhdi,
;;; libvmdk and libqcow (through their Python bindings) and 7-Zip -- read
;;; the engine's result through scm/instar/reader-probe.py:
;;;   open   the reader accepts the image
;;;   size   its disk size equals the virtual size qemu-img reports
;;;   data   each checked range (the patterns qemu-io wrote, zeros in the
;;;          grown range) reads back as the byte qemu-io reads there
;;; A diff's oracle is "reader:NAME", so whitelist rules name one reader.
;;; 7-Zip can only stream a disk from its first byte: a range far out (the
;;; last MiB of a 2 TiB VHD) would cost a read of terabytes of zeros, so
;;; it reads only the ranges that end within `sevenzip-stream-limit'
;;; (it still opens the image and reports its size); the other readers
;;; seek, and read every range.

(define-module (instar readers)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (json)
  #:use-module (ice-9 threads)
  #:use-module (instar process)
  #:export (known-readers
            take-readers-option
            make-reader-tally
            tally-reader!
            report-reader-tally
            reader-pair-diffs
            recipe-out-directory
            reader-formats
            reader-available?
            available-readers
            resolve-readers
            readers-for-format
            reader-probe-argv
            reader-step
            reader-diffs
            vmdk-descriptor-step
            vmdk-descriptor-diffs))

(define known-readers
  '("libvhdi" "libvmdk" "libqcow" "7zip"))

(define reader-format-table
  '(("libvhdi" "vpc" "vhdx")
    ("libvmdk" "vmdk")
    ("libqcow" "qcow2")
    ("7zip" "vpc" "vhdx" "vmdk")))

(define (reader-formats reader)
  "The qemu format names READER is an oracle for."
  (or (assoc-ref reader-format-table reader) '()))

(define (probe-script)
  (search-path %load-path "instar/reader-probe.py"))

(define (python3)
  ;; Debian's bindings live in Debian's python3: prefer it over a
  ;; pyenv or venv python3 earlier on PATH.
  ;; $PYTHON3, when set, is the only candidate (a wrong one is missing).
  (let ((p (getenv "PYTHON3")))
    (if (and p (not (string-null? p)))
        (and (access? p X_OK) p)
        (or (and (access? "/usr/bin/python3" X_OK) "/usr/bin/python3")
            (search-path (parse-path (or (getenv "PATH") "")) "python3")))))

(define (sevenzip)
  ;; $SEVENZIP, when set, is the only candidate (reader-probe.py uses it).
  (let ((p (getenv "SEVENZIP")))
    (if (and p (not (string-null? p)))
        (and (access? p X_OK) p)
        (search-path (parse-path (or (getenv "PATH") "")) "7zz"))))

(define (reader-available? reader)
  "Whether READER can run here: 7zz found, or the Python binding imports."
  (match reader
    ("7zip" (and (sevenzip) (python3) (probe-script) #t))
    ((or "libvhdi" "libvmdk" "libqcow")
     (let ((py (python3)))
       (and py (probe-script)
            (result-ok?
             (run-command (list py "-c" (string-append "import py" (substring reader 3)))
                          #:timeout 30))
            #t)))
    (_ #f)))

(define (available-readers)
  "Every known reader that can run on this machine."
  (filter reader-available? known-readers))

(define (resolve-readers spec)
  "The readers to use: SPEC #f means every available one; otherwise a
list of names.  Returns (values READERS ERROR-KIND MESSAGE): ERROR-KIND
is #f, 'usage (an unknown name) or 'environment (a listed reader that
cannot run here)."
  (cond
   ((not spec) (values (available-readers) #f #f))
   ((find (lambda (r) (not (member r known-readers))) spec)
    => (lambda (r) (values '() 'usage
                           (format #f "unknown reader '~a' (known: ~a)" r
                                   (string-join known-readers ",")))))
   ((find (lambda (r) (not (reader-available? r))) spec)
    => (lambda (r) (values '() 'environment
                           (format #f "reader '~a' is not installed (bootstrap installs ~a)"
                                   r (match r
                                       ("7zip" "7zip")
                                       (_ (string-append "python3-" r)))))))
   (else (values spec #f #f))))

(define (readers-for-format readers fmt)
  "The readers among READERS that read format FMT."
  (filter (lambda (r) (member fmt (reader-formats r))) readers))

(define (ranges->string ranges)
  (if (null? ranges)
      "-"
      (string-join (map (match-lambda ((_ off len) (format #f "~d:~d" off len))) ranges) ",")))

(define sevenzip-stream-limit (expt 2 30))

(define (readable-ranges reader ranges)
  "The RANGES ((BYTE OFFSET LENGTH) ...) READER reads: for 7zip, only
those ending within `sevenzip-stream-limit' bytes (it streams the disk
from its start)."
  (if (equal? reader "7zip")
      (filter (lambda (r) (<= (+ (cadr r) (caddr r)) sevenzip-stream-limit)) ranges)
      ranges))

(define (reader-probe-argv reader fmt ranges)
  "The argument list that reads RANGES ((BYTE OFFSET LENGTH) ...) of a
FMT image through READER (those it reads, see `readable-ranges'); the
image path goes last."
  (list (python3) (probe-script) reader fmt (ranges->string (readable-ranges reader ranges))))

(define (reader-step reader fmt ranges)
  "A chain step running READER on the engine's image (see chain.scm's
\"external\" step)."
  `(("step" . "external") ("name" . ,(string-append "reader:" reader))
    ("side" . "engine")
    ("argv" . ,(list->vector (reader-probe-argv reader fmt ranges)))))

(define (mkdiff reader field got want)
  `(("op" . "resize") ("oracle" . ,(string-append "reader:" reader)) ("field" . ,field)
    ("engine" . ,(format #f "~a" got)) ("reference" . ,(format #f "~a" want))))

(define* (reader-diffs reader result qemu-size ranges #:key (grown-from #f))
  "Diffs between what READER read (RESULT, the probe's run) and what
qemu says: QEMU-SIZE, and each of RANGES ((BYTE OFFSET LENGTH) ...)
reading as BYTE.  Ranges at or past GROWN-FROM (the old size of a grow)
are reported as field \"zero\", the others as \"data\", so a rule about
the grown range never covers the kept data.  '() when they agree."
  (let* ((json (and result (false-if-exception (json-string->scm (result-stdout result)))))
         (err (and json (assoc-ref json "error")))
         (ranges (readable-ranges reader ranges)))
    (cond
     ((or (not json) (not (result-ok? result)))
      (list (mkdiff reader "open" (or err (and result (result-stderr result)) "no output")
                    "opens")))
     (else
      (let ((size (assoc-ref json "size"))
            (got (vector->list (assoc-ref json "ranges"))))
        (append
         (if (eqv? size qemu-size) '() (list (mkdiff reader "size" size qemu-size)))
         (if (not (= (length got) (length ranges)))
             (list (mkdiff reader "data" (format #f "~a ranges" (length got))
                           (format #f "~a ranges" (length ranges))))
             (let* ((bad (filter-map
                          (lambda (want g)
                            (match want
                              ((byte off len)
                               (and (not (and (eqv? (assoc-ref g "got") len)
                                              (eqv? (assoc-ref g "byte") byte)))
                                    (cons (if (and grown-from (>= off grown-from)) "zero" "data")
                                          (format #f "~d+~d: ~a" off len
                                                  (if (eqv? (assoc-ref g "got") len)
                                                      (let ((b (assoc-ref g "byte")))
                                                        (if (eq? b 'null) "mixed"
                                                            (format #f "0x~2,'0x" b)))
                                                      (format #f "~a bytes" (assoc-ref g "got")))))))))
                          ranges got)))
               (filter-map
                (lambda (field)
                  (let ((these (filter-map (lambda (b) (and (equal? (car b) field) (cdr b))) bad)))
                    (and (pair? these)
                         (mkdiff reader field (string-join these "; ")
                                 (if (equal? field "zero") "zeros" "the bytes qemu-io reads")))))
                '("data" "zero"))))))))))

;;; The recipes' --readers LIST option and per-reader counts.

(define (take-readers-option name args)
  "Take --readers LIST (or --readers=LIST) out of ARGS.  Returns (values
READERS OTHER-ARGS): every available reader without the option, the
listed ones with it.  Exits 2 on an unknown name and 3 on a listed
reader that cannot run here (no reader is resolved for --help)."
  (let loop ((as args) (spec #f) (rest '()))
    (match as
      (()
       (let ((rest (reverse rest)))
         (if (or (member "--help" rest) (member "-h" rest))
             (values '() rest)
             (call-with-values
                 (lambda () (if (eq? spec 'missing)
                                (values '() 'usage "--readers wants a list")
                                (resolve-readers spec)))
               (lambda (rs kind msg)
                 (when kind
                   (format (current-error-port) "~a: ~a~%" name msg)
                   (exit (if (eq? kind 'usage) 2 3)))
                 (values rs rest))))))
      (("--readers" v . more) (loop more (string-split v #\,) rest))
      (("--readers") (loop '() 'missing rest))
      (((? (lambda (a) (string-prefix? "--readers=" a)) a) . more)
       (loop more (string-split (substring a 10) #\,) rest))
      ((a . more) (loop more spec (cons a rest))))))

(define (make-reader-tally readers)
  "Counts per reader: cases read, agreeing, whitelisted, disagreeing."
  (cons (make-mutex)
        (map (lambda (r) (cons r (list (cons "read" 0) (cons "agree" 0)
                                       (cons "whitelisted" 0) (cons "disagree" 0))))
             readers)))

(define (tally-reader! tally reader key)
  "Add one to READER's KEY (thread-safe: workers are threads)."
  (with-mutex (car tally)
    (let ((cell (assoc key (or (assoc-ref (cdr tally) reader) '()))))
      (when cell (set-cdr! cell (+ 1 (cdr cell)))))))

(define (report-reader-tally tally out-dir)
  "Print the counts to standard error; write OUT-DIR/readers.json."
  (unless (null? (cdr tally))
    (for-each (lambda (rt)
                (let ((t (cdr rt)))
                  (format (current-error-port)
                          "reader ~a: ~a read, ~a agree, ~a whitelisted, ~a disagree~%"
                          (car rt) (assoc-ref t "read") (assoc-ref t "agree")
                          (assoc-ref t "whitelisted") (assoc-ref t "disagree"))))
              (cdr tally))
    (when (and out-dir (file-exists? out-dir))
      (false-if-exception
       (call-with-output-file (string-append out-dir "/readers.json")
         (lambda (p) (scm->json `(("readers" . ,(list->vector (map car (cdr tally))))
                                  ("counts" . ,(cdr tally)))
                                p)))))))

(define (reader-pair-diffs reader engine-result reference-result)
  "Diffs between what READER read from the engine's result and from the
reference's (qemu-img's) result of the same case: whether it opens,
the size, and each range's bytes (by hash)."
  (define (parse r)
    (and r (result-ok? r) (false-if-exception (json-string->scm (result-stdout r)))))
  (let ((e (parse engine-result)) (r (parse reference-result)))
    (cond
     ((and (not e) (not r)) '())          ; refuses both: nothing to compare
     ((or (not e) (not r))
      (list (mkdiff reader "open" (if e "opens" "refused") (if r "opens" "refused"))))
     (else
      (append
       (if (eqv? (assoc-ref e "size") (assoc-ref r "size"))
           '()
           (list (mkdiff reader "size" (assoc-ref e "size") (assoc-ref r "size"))))
       (let ((bad (filter-map
                   (lambda (a b)
                     (and (not (equal? (assoc-ref a "sha256") (assoc-ref b "sha256")))
                          (format #f "~d+~d" (assoc-ref a "offset") (assoc-ref a "length"))))
                   (vector->list (assoc-ref e "ranges"))
                   (vector->list (assoc-ref r "ranges")))))
         (if (null? bad)
             '()
             (list (mkdiff reader "data" (string-join bad "; ") "the reference's bytes")))))))))

(define (recipe-out-directory args)
  "The --out directory ARGS name (the recipes' default: instar-out)."
  (let loop ((as args))
    (match as
      (() "instar-out")
      (((or "--out" "-o") d . _) d)
      (((? (lambda (a) (string-prefix? "--out=" a)) a) . _) (substring a 6))
      ((_ . more) (loop more)))))

;;; The VMDK descriptor: the size it states twice more (extent lines and
;;; BIOS geometry), which neither qemu nor libvmdk checks on a sparse
;;; extent.  scm/instar/vmdk-descriptor.py reads it.

(define (vmdk-descriptor-step)
  "A chain step reading the descriptor of the engine's VMDK (step name
\"descriptor\")."
  `(("step" . "external") ("name" . "descriptor") ("side" . "engine")
    ("argv" . ,(vector (python3) (search-path %load-path "instar/vmdk-descriptor.py")))))

(define (vmdk-descriptor-diffs result vsize)
  "Diffs (oracle \"descriptor\") when the descriptor RESULT (the step's
run) disagrees with VSIZE, the virtual size qemu-img reports: the extent
lines' sectors must add up to it, and ddb.geometry.cylinders must be
what qemu-img create writes for it, VSIZE / (heads x sectors x 512)
with the descriptor's own heads and sectors (16 and 63 when absent)."
  (define (diff field got want)
    `(("op" . "resize") ("oracle" . "descriptor") ("field" . ,field)
      ("engine" . ,(format #f "~a" got)) ("reference" . ,(format #f "~a" want))))
  (let* ((json (and result (result-ok? result)
                    (false-if-exception (json-string->scm (result-stdout result))))))
    (if (not json)
        (list (diff "open" (if result (first-line-of (result-stdout result)) "not run")
                    "a descriptor"))
        (let* ((extents (vector->list (assoc-ref json "extents")))
               (sectors (apply + (map (lambda (e) (assoc-ref e "sectors")) extents)))
               (geo (assoc-ref json "geometry"))
               (heads (or (assoc-ref geo "heads") 16))
               (secs (or (assoc-ref geo "sectors") 63))
               (cyl (assoc-ref geo "cylinders"))
               (want-cyl (quotient vsize (* heads secs 512))))
          (append
           (if (= (* 512 sectors) vsize) '()
               (list (diff "extent-sectors" sectors (quotient vsize 512))))
           (if (or (not cyl) (= cyl want-cyl)) '()
               (list (diff "geometry-cylinders" cyl want-cyl))))))))

(define (first-line-of s)
  (let ((i (string-index s #\newline)))
    (if i (substring s 0 i) s)))
