;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar engine) -- the engine under test and the reference, as records.
;;;
;;; An engine creates and resizes images.  Two kinds:
;;;  - external: any program speaking qemu-img's `create'/`resize' command
;;;    line (qemu-img itself, instar-img, a wrapper script), run as a child
;;;    with an argument list and a timeout;
;;;  - in-process: the C core through (instar core), with repro.sh files
;;;    spelling the same operations as instar-img commands.
;;; Both return (instar process) result records, so oracles never care
;;; which kind ran.

(define-module (instar engine)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:use-module (instar process)
  #:export (make-external-engine
            make-in-process-engine
            in-process-available?
            engine?
            engine-name
            engine-kind
            engine-program
            engine-create
            engine-resize
            engine-plan-summary
            create-argv
            resize-argv
            options->string))

(define-record-type <engine>
  (make-engine name kind program core)
  engine?
  (name engine-name)          ; for reports
  (kind engine-kind)          ; 'external or 'in-process
  (program engine-program)    ; the binary (external) or instar-img for repro.sh
  (core engine-core))         ; the (instar core) interface, or #f

(define (options->string options)
  "OPTIONS (an alist of strings) as qemu-img's -o argument: k=v,k=v."
  (string-join (map (lambda (kv) (string-append (car kv) "=" (cdr kv))) options) ","))

(define (create-argv program format path size options prealloc)
  "qemu-img's create command line: PROGRAM create -q -f FORMAT [-o ...] PATH SIZE."
  (let ((opts (append options
                      (if (and prealloc (not (equal? prealloc "off")))
                          `(("preallocation" . ,prealloc))
                          '()))))
    `(,program "create" "-q" "-f" ,format
               ,@(if (null? opts) '() (list "-o" (options->string opts)))
               ,path ,size)))

(define (resize-argv program format path spec shrink? prealloc)
  "qemu-img's resize command line; the size comes last (qemu-img reads it
before option parsing, which is what lets -N through)."
  `(,program "resize" "-q" "-f" ,format
             ,@(if shrink? '("--shrink") '())
             ,@(if prealloc (list (string-append "--preallocation=" prealloc)) '())
             ,path ,spec))

(define (make-external-engine name program)
  "An engine that runs PROGRAM, a qemu-img-compatible binary, as a child
process; NAME labels it in reports."
  (make-engine name 'external program #f))

(define (in-process-available?)
  "Whether (instar core) loads with its extension.  A failed load can
leave a half-made module behind, so look for the primitives themselves."
  (let ((m (false-if-exception (resolve-interface '(instar core)))))
    (define (bound? name)
      (let ((v (module-variable m name))) (and v (variable-bound? v))))
    (and m (bound? 'image-resize) (bound? 'image-create) #t)))

(define (make-in-process-engine instar-img)
  "The C core in this process.  INSTAR-IMG names the CLI used in repro.sh."
  (make-engine "in-process" 'in-process instar-img (resolve-interface '(instar core))))

;; A result record for an in-process call, shaped like a child's.
(define (in-process-result argv thunk)
  (let ((t0 (get-internal-real-time)))
    (define (done class status msg)
      (make-result argv class status #f "" msg
       (/ (- (get-internal-real-time) t0) internal-time-units-per-second 1.0)))
    (catch #t
      (lambda () (thunk) (done 'ok 0 ""))
      (lambda (key . args)
        (if (eq? key 'instar-error)
            ;; (error-symbol message . details), shown as instar-img would.
            (done 'error 1 (if (and (pair? args) (pair? (cdr args)) (string? (cadr args)))
                               (format #f "~a: ~a" (car args) (cadr args))
                               (format #f "~a" args)))
            ;; Anything else is a bug in the binding or the core: a crash.
            (done 'signal #f (format #f "~a: ~s" key args)))))))

(define (core-ref engine name) (module-ref (engine-core engine) name))

(define (engine-plan-summary engine format path spec shrink? prealloc)
  "What an in-process ENGINE's dry-run plan of this resize says (the file
is only read): ((\"action\" . \"grow\"|\"shrink\"|\"noop\") (\"old-size\" . N)
(\"new-size\" . N)); #f when it refuses the resize, or for an external
engine (there is no plan to ask for).  A plan a user previews must say
what the resize then does (see `plan-diffs' in (instar oracles))."
  (and (eq? (engine-kind engine) 'in-process)
       (false-if-exception
        (let ((p ((core-ref engine 'image-plan) path spec
                  #:format (string->symbol format)
                  #:shrink? shrink?
                  #:prealloc (string->symbol (or prealloc "off")))))
          `(("action" . ,(symbol->string ((core-ref engine 'plan-action) p)))
            ("old-size" . ,((core-ref engine 'plan-old-virtual-size) p))
            ("new-size" . ,((core-ref engine 'plan-new-virtual-size) p)))))))

(define* (engine-create engine format path size options prealloc
                        #:key (timeout 60) (scratch #f))
  "Create an image at PATH with ENGINE as qemu-img create would (FORMAT,
SIZE a size string, OPTIONS an alist of -o keys, PREALLOC a mode or
#f); a result record (see (instar process)), in-process calls included."
  (match (engine-kind engine)
    ('external
     (run-command (create-argv (engine-program engine) format path size options prealloc)
                  #:timeout timeout #:scratch scratch))
    ('in-process
     (in-process-result
      (create-argv (engine-program engine) format path size options prealloc)
      (lambda ()
        ((core-ref engine 'image-create) path
         #:format (string->symbol format)
         #:size ((core-ref engine 'parse-size) size)
         #:options options
         #:prealloc (string->symbol (or prealloc "off"))))))))

(define* (engine-resize engine format path spec shrink? prealloc
                        #:key (timeout 60) (scratch #f))
  "Resize the image at PATH with ENGINE as qemu-img resize would (SPEC a
size spec string, SHRINK? for --shrink, PREALLOC a mode or #f); a
result record."
  (match (engine-kind engine)
    ('external
     (run-command (resize-argv (engine-program engine) format path spec shrink? prealloc)
                  #:timeout timeout #:scratch scratch))
    ('in-process
     (in-process-result
      (resize-argv (engine-program engine) format path spec shrink? prealloc)
      (lambda ()
        ((core-ref engine 'image-resize) path spec
         #:format (string->symbol format)
         #:shrink? shrink?
         #:prealloc (string->symbol (or prealloc "off"))))))))
