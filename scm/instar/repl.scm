;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar repl) -- the instar-fuzz-repl session: banner, readline, and
;;; helpers for looking at fuzz inputs.

(define-module (instar repl)
  #:use-module (instar core)
  #:use-module (instar config)
  #:use-module (instar plan-print)
  #:use-module (rnrs bytevectors)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (srfi srfi-1)
  #:use-module (system repl repl)
  #:use-module (system repl common)
  #:use-module (system base language)
  #:export (explain-fuzz-input fuzz-carves instar-banner start-instar-repl
            instar-repl-main))

(define (instar-banner)
  "The banner instar-fuzz-repl prints: the main procedures in one screen."
  (format #f "instar-fuzz ~a REPL (GNU Guile ~a).  Loaded: (instar), every (instar ...) module
  files    (image-create PATH #:format 'qcow2 #:size \"1G\" #:options '((\"cluster_size\" . \"65536\")))
           (image-probe PATH)   (image-plan PATH \"+1G\")   (image-resize PATH \"+1G\" #:shrink? #f)
  look     (show-plan PATH \"+1G\")   (plan-print PLAN #:image PATH)   (plan-check PLAN)
  plan     (plan-resize-raw #:current-file-size N #:new-size N)   plan-resize-{qcow2,vhd,vhdx,vmdk}
  fuzz     (explain-fuzz-input \"corpus/file\")   (fuzz-decode BV)   (xxh3-64 BV)   (parse-size \"1.5M\")
  findings (list-store '(\"instar-out\"))   (read-finding \"instar-out\" ID)   (merge-stores! '(A B) C)
  help     ,describe PROCEDURE   ,apropos plan   ,quit
" %instar-version (version)))

;;; Fuzz inputs

(define (input->bytevector x)
  (cond ((bytevector? x) x)
        ((string? x)
         (let ((bv (call-with-input-file x get-bytevector-all #:binary #t)))
           (if (eof-object? bv) #vu8() bv)))
        (else (scm-error 'wrong-type-arg "explain-fuzz-input"
                         "Wrong type argument (expecting bytevector or file name): ~S"
                         (list x) (list x)))))

(define (fuzz-carves target pool-length)
  "How the existing-state pool of POOL-LENGTH bytes is carved for TARGET
(the fuzz header, see the manual): a list of (name offset length), lengths clamped to what
the pool holds."
  (let ((plan (if (memq target '(qcow2-grow qcow2-shrink))
                  '(("L1 table" . 4096) ("refcount table" . 4096)
                    ("refcount blocks" . 32768) ("L2 tables" . 32768))
                  (if (eq? target 'raw)
                      '()
                      '(("header" . 512) ("dynamic header" . 1024)
                        ("BAT / grain directory" . 32768))))))
    (let loop ((plan plan) (at 0) (out '()))
      (match plan
        (() (reverse out))
        (((name . size) . rest)
         (let ((len (max 0 (min size (- pool-length at)))))
           (loop rest (+ at len) (cons (list name (+ 32 at) len) out))))))))

(define (explain-fuzz-input input)
  "Explain a fuzz input (a bytevector, or the name of a corpus or crash
file): the decoded 32-byte fuzz header in words, and how the
pool after it is carved.  Returns the decoded alist (fuzz-decode)."
  (let* ((bv (input->bytevector input))
         (h (fuzz-decode bv))
         (get (lambda (k) (assq-ref h k)))
         (size (lambda (k) (format #f "~d (~a)" (get k) (human-size (get k))))))
    (format #t "fuzz input: ~d bytes, xxh3-64 ~16,'0x~%" (bytevector-length bv) (xxh3-64 bv))
    (format #t "  target            ~a (format byte ~d mod 6 = ~d)~%"
            (get 'target) (get 'format-byte) (modulo (get 'format-byte) 6))
    (format #t "  flags             #x~2,'0x: allow-shrink ~a, extended-l2 ~a, lazy-refcounts ~a, raw slices ~a~%"
            (get 'flags) (get 'allow-shrink?) (get 'extended-l2?) (get 'lazy-refcounts?)
            (get 'raw-slices?))
    (format #t "  preallocation     ~a~%" (get 'prealloc))
    (format #t "  refcount bits     ~d (selector ~d)~a~%" (get 'refcount-bits)
            (get 'refcount-selector)
            (if (= (get 'refcount-bits) #xff) ", invalid on purpose" ""))
    (format #t "  subformat         ~d~%" (get 'subformat))
    (format #t "  unit size         ~d (~a)~%" (get 'unit-size) (human-size (get 'unit-size)))
    (format #t "  current virtual   ~a~%" (size 'current-virtual-size))
    (format #t "  new virtual       ~a~%" (size 'new-virtual-size))
    (format #t "  current file      ~a~%" (size 'current-file-size))
    (format #t "  pool              ~d bytes~%" (get 'pool-length))
    (for-each (match-lambda
                ((name offset len)
                 (format #t "    ~22a @ ~6d  ~d bytes~a~%" name offset len
                         (if (zero? len) " (empty: not staged)" ""))))
              (fuzz-carves (get 'target) (get 'pool-length)))
    h))

;;; The session

(define* (start-instar-repl #:key (banner? #t))
  "Start a REPL in (guile-user) with the (instar ...) modules loaded;
readline when standard input is a terminal and (ice-9 readline) loads."
  (let ((user (resolve-module '(guile-user))))
    (set-current-module user)
    ;; (instar): every module's public API, the differential engine's
    ;; and the findings database's too.
    (eval '(use-modules (instar) (rnrs bytevectors) (ice-9 binary-ports))
          user)
    (when (isatty? (current-input-port))
      (false-if-exception
       ((module-ref (resolve-interface '(ice-9 readline)) 'activate-readline))))
    (when banner?
      (display (instar-banner)))
    ;; Guile prints its welcome when the REPL stack is empty: run ours one
    ;; level down (under a placeholder) and count levels from there.
    (repl-default-option-set! 'prompt instar-prompt)
    (with-fluids ((*repl-stack* (list 'instar-fuzz-repl)))
      (start-repl 'scheme))))

(define (instar-prompt repl)
  "Guile's prompt, with error levels counted from our session."
  (let ((level (max 0 (- (length (fluid-ref *repl-stack*)) 2))))
    (format #f "~a@~a~a> " (language-name (repl-language repl))
            (module-name (current-module))
            (if (zero? level) "" (format #f " [~a]" level)))))

(define (usage port)
  (format port "Usage: instar-fuzz-repl [--quiet] [FILE...]
Start a Guile REPL with the (instar ...) modules of instar-fuzz loaded.
Each FILE is loaded first.

  -q, --quiet     no banner
  -h, --help      this help
      --version   the version
"))

(define (instar-repl-main args)
  "The entry point of instar-fuzz-repl: ARGS is (command-line)."
  (let loop ((args (if (pair? args) (cdr args) '())) (banner? #t) (files '()))
    (match args
      (() (for-each (lambda (f) (primitive-load f)) (reverse files))
          (start-instar-repl #:banner? banner?))
      (((or "-h" "--help") . _) (usage (current-output-port)) (exit 0))
      (("--version" . _) (format #t "instar-fuzz-repl (instar-fuzz) ~a~%" %instar-version) (exit 0))
      (((or "-q" "--quiet") . rest) (loop rest #f files))
      (((? (lambda (a) (string-prefix? "-" a)) opt) . _)
       (format (current-error-port) "instar-fuzz-repl: unknown option ~a~%" opt)
       (usage (current-error-port))
       (exit 2))
      ((file . rest) (loop rest banner? (cons file files))))))
